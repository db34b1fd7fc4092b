"""The explicit Layer API (0.2 capstone, step 1): every layer writes its own backward pass.

The autograd engine (`tensor.py`) derives backward from a recorded graph. Before it, frameworks such
as Caffe and the first Torch were built from layers that each implement two methods by hand:

    forward(x)            -> y, keeping whatever backward will need (the input, a mask, x_hat ...)
    backward(dL/dy)       -> dL/dx, and stores dL/dparam in `layer.grads[name]`

A `Network` calls forward through the layers in order and backward in reverse order: the chain rule
as a loop. The derivatives, for x (N, in) and upstream G = dL/dy:

    Linear       y = x W^T + b           dx = G W,  dW = G^T x,  db = sum_n G
    Activation   y = f(x)                dx = G * f'(x)
    Dropout      y = x * m / (1 - p)     dx = G * m / (1 - p)          (m ~ Bernoulli(1 - p), train only)
    BatchNorm    x_hat = (x - mu) / s,  s = sqrt(var + eps),  y = gamma x_hat + beta
                 dgamma = sum_n G x_hat,  dbeta = sum_n G,
                 dx = gamma / (N s) * (N G - sum_n G - x_hat * sum_n (G x_hat))
    Softmax + cross-entropy (mean over N)   dlogits = (softmax(z) - onehot(y)) / N

Every backward is checked against our autograd and against torch (`tests/grad/test_layers_api.py`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)


class Layer:
    """Base class: `params` and `grads` are dicts of arrays with the same keys."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


class LinearLayer(Layer):
    """y = x W^T + b with W (out, in), torch's layout and initialisation U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, n_in: int, n_out: int, rng=None, dtype=np.float64):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        bound = 1 / np.sqrt(n_in)
        self.params["W"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(dtype)
        self.params["b"] = rng.uniform(-bound, bound, n_out).astype(dtype)

    def forward(self, x):
        self.x = x  # (N, in)
        return x @ self.params["W"].T + self.params["b"]  # (N, out)

    def backward(self, grad):
        self.grads["W"] = grad.T @ self.x  # (out, in)
        self.grads["b"] = grad.sum(axis=0)
        return grad @ self.params["W"]  # (N, in)


def _gelu(x):
    cdf = 0.5 * (1 + erf(x / np.sqrt(2.0)))
    return x * cdf, cdf + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _sigmoid(x):
    s = 1 / (1 + np.exp(-x))
    return s, s * (1 - s)


ACTIVATIONS = {
    "relu": lambda x: (np.maximum(x, 0), (x > 0).astype(x.dtype)),
    "tanh": lambda x: (np.tanh(x), 1 - np.tanh(x) ** 2),
    "sigmoid": _sigmoid,
    "gelu": _gelu,
    "leaky_relu": lambda x: (np.where(x > 0, x, 0.01 * x), np.where(x > 0, 1.0, 0.01).astype(x.dtype)),
}


class ActivationLayer(Layer):
    """An elementwise f; forward keeps f'(x) for backward."""

    def __init__(self, name: str = "relu"):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"name must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
        self.name = name

    def forward(self, x):
        y, self.slope = ACTIVATIONS[self.name](x)
        return y

    def backward(self, grad):
        return grad * self.slope


class DropoutLayer(Layer):
    """Inverted dropout: zero each unit with probability p in training and scale survivors by 1/(1-p),
    so evaluation (which passes x through unchanged) sees the same expected activation."""

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x):
        if not self.training or self.p == 0:
            self.mask = None
            return x
        self.mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * self.mask

    def backward(self, grad):
        return grad if self.mask is None else grad * self.mask


class BatchNormLayer(Layer):
    """Batch normalisation over axis 0 of (N, C): batch statistics in training (running averages
    updated with `momentum`, the unbiased variance stored, as torch), running statistics in eval."""

    def __init__(self, n: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float64):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.params["gamma"] = np.ones(n, dtype)
        self.params["beta"] = np.zeros(n, dtype)
        self.running_mean, self.running_var = np.zeros(n, dtype), np.ones(n, dtype)

    def forward(self, x):
        if self.training:
            mean, var = x.mean(axis=0), x.var(axis=0)  # (C,), biased: what normalises the batch
            n, m = len(x), self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * n / max(n - 1, 1)
        else:
            mean, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.x_hat = (x - mean) / self.std  # (N, C)
        return self.params["gamma"] * self.x_hat + self.params["beta"]

    def backward(self, grad):
        self.grads["gamma"] = (grad * self.x_hat).sum(axis=0)
        self.grads["beta"] = grad.sum(axis=0)
        scale = self.params["gamma"] / self.std  # (C,)
        if not self.training:  # fixed statistics: a per-channel affine map
            return grad * scale
        n = len(grad)
        return scale / n * (n * grad - self.grads["beta"] - self.x_hat * self.grads["gamma"])


class SoftmaxCrossEntropy:
    """Mean cross-entropy of logits (N, K) against integer labels (N,), with its fused gradient."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, K)
        self.p, self.labels = np.exp(log_p), labels
        return float(-log_p[np.arange(len(labels)), labels].mean())

    def backward(self) -> np.ndarray:
        grad = self.p.copy()
        grad[np.arange(len(self.labels)), self.labels] -= 1
        return grad / len(self.labels)  # (N, K)


class Network:
    """Layers in order; `train_step` runs forward, the loss, backward in reverse, and an SGD update
    (with momentum and weight decay on weight matrices)."""

    def __init__(
        self, layers: list[Layer], lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 0.0
    ):
        self.layers, self.loss = layers, SoftmaxCrossEntropy()
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = {
            (i, k): np.zeros_like(v) for i, layer in enumerate(layers) for k, v in layer.params.items()
        }

    def train(self, mode: bool = True) -> Network:
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> Network:
        return self.train(False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def step(self) -> None:
        for (i, key), v in self.velocity.items():
            param, grad = self.layers[i].params[key], self.layers[i].grads[key]
            if self.weight_decay and param.ndim > 1:
                grad = grad + self.weight_decay * param
            v *= self.momentum
            v += grad
            param -= self.lr * v

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss = self.loss.forward(self.forward(x), y)
        self.backward(self.loss.backward())
        self.step()
        return loss

    def predict(self, x: np.ndarray, batch: int = 1024) -> np.ndarray:
        return np.concatenate(
            [self.forward(x[i : i + batch]).argmax(axis=1) for i in range(0, len(x), batch)]
        )

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(x) == y).mean())

    def fit(self, x, y, epochs: int, batch_size: int = 64, seed: int = 0) -> list[float]:
        """Shuffled mini-batch SGD for `epochs`; returns the mean training loss of each epoch."""
        rng = np.random.default_rng(seed)
        history = []
        self.train()
        for _ in range(epochs):
            order = rng.permutation(len(x))
            losses = [
                self.train_step(x[b], y[b]) for b in np.array_split(order, max(len(x) // batch_size, 1))
            ]
            history.append(float(np.mean(losses)))
        self.eval()
        return history


def mlp(
    sizes: list[int], activation: str = "relu", dropout: float = 0.0, batchnorm: bool = False, seed: int = 0
):
    """Linear [-> BatchNorm] -> activation [-> Dropout] per hidden layer, then a Linear to the classes."""
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(LinearLayer(n_in, n_out, rng))
        if batchnorm:
            layers.append(BatchNormLayer(n_out))
        layers.append(ActivationLayer(activation))
        if dropout:
            layers.append(DropoutLayer(dropout, rng))
    layers.append(LinearLayer(sizes[-2], sizes[-1], rng))
    return layers
