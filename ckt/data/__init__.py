"""Circuit datasets for learning (PyTorch Geometric datasets and the generators behind them)."""
