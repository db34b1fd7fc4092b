"""Runnable curriculum exercises for groundup.grad (compared against PyTorch)."""
