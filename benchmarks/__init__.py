"""groundup benchmarks: each `bench_<name>.py` times ours and its production peer in the same run."""
