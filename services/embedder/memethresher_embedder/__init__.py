"""The embedder: stored images into L2-normalised vectors, tagged with their encoder id."""
