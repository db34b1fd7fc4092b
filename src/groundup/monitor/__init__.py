"""Drift monitoring (curriculum 3.7): the statistics that say whether today's inputs still look like
the data a model was trained on, a per-feature report over two CSV files, and a demo classifier whose
inputs shift.

Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "drift": [
            "chi_square",
            "js_divergence",
            "kl_divergence",
            "ks_two_sample",
            "psi",
            "proportions",
            "quantile_edges",
        ],
        "report": ["FeatureDrift", "compare_tables", "read_table", "render_html", "render_markdown"],
    },
)
