"""Theory tools (curriculum 0.9): measurements that connect deep-learning theory to real networks.

Hessian spectra by Hessian-vector products, loss-landscape slices, double descent, the information
plane, universal approximation and generalization bounds. Names load on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "hessian": ["HessianOperator", "hutchinson_trace", "lanczos", "power_iteration"],
        "landscape": ["filter_normalized_direction", "interpolate", "slice_2d"],
        "double_descent": ["random_features_sweep"],
        "info_plane": ["binned_mutual_information", "discretize", "kde_mutual_information"],
        "approximation": ["interpolant_network", "sawtooth", "tent_network"],
        "bounds": ["kl_inverse", "mcallester_bound", "rademacher_linear"],
    },
)
