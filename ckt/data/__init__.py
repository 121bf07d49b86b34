"""Circuit datasets for learning: loaders, splits, and the simulated OCB labels."""
