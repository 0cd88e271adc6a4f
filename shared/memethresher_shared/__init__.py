"""What every MemeThresher service agrees on: settings, tables, queues, task names, the image store."""
