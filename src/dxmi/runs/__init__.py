"""Training runs: the run directory, the one training loop, the point and image pipelines."""
