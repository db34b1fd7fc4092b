"""The NumPy track: a scalar autograd (`Value`), a Tensor autograd, layers (`nn`) and optimizers (`optim`).

Nothing here imports torch; the tests compare every op, layer, loss and optimizer against it.
Names load from their submodules on first use (`groundup.lazy`).
"""

from groundup.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "gradcheck": ["gradcheck"],
        "ops": ["clip", "concatenate", "maximum", "pad", "split", "stack", "where"],
        "scalar": ["MLP", "Value"],
        "tensor": ["Tensor", "is_grad_enabled", "matmul", "no_grad", "tensor"],
    },
)
