"""The paper portfolio (curriculum 0.10): small, real re-runs of the experiments behind foundational
papers, each reported beside the paper's own number in docs/notes/0.10-papers/."""
