"""The NumPy track: a scalar autograd (`Value`), a Tensor autograd, layers (`nn`) and optimizers (`optim`).

Nothing here imports torch; the tests compare every op, layer, loss and optimizer against it.
"""

from groundup.grad.gradcheck import gradcheck
from groundup.grad.ops import clip, concatenate, maximum, pad, split, stack, where
from groundup.grad.scalar import MLP, Value
from groundup.grad.tensor import Tensor, is_grad_enabled, matmul, no_grad, tensor

__all__ = [
    "MLP",
    "Tensor",
    "Value",
    "clip",
    "concatenate",
    "gradcheck",
    "is_grad_enabled",
    "matmul",
    "maximum",
    "no_grad",
    "pad",
    "split",
    "stack",
    "tensor",
    "where",
]
