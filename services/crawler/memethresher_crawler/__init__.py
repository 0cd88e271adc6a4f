"""MemeThresher crawler: sources (Reddit listings, local folders) into the image store and `memes`."""
