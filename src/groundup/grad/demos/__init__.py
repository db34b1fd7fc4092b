"""Capstone demos of the NumPy framework (`groundup grad demo ...`): XOR step by step, an MLP and a
small CNN on real MNIST, and optimizer / normalization comparisons, each writing a markdown report
with PNG plots."""
