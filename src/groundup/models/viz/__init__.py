"""`groundup viz`: commands that draw what a model computes (attention patterns, 0.5)."""
