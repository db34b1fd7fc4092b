"""groundup: deep learning from the ground up, every piece checked against a production library."""

__version__ = "0.1.0"
