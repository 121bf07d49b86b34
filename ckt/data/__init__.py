"""Circuit datasets for learning: loaders, splits, the OCB generator and its simulated labels."""
