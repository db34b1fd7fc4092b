"""PyTorch models; shared blocks live in `layers.py`, one model family per file."""
