"""Recurrent layers: RNN, LSTM and GRU cells and multi-layer sequence modules.

The sequence modules unroll the cell over time with ordinary Tensor ops, so backpropagation through
time is just autograd on the unrolled graph. Gate layouts and parameter names follow PyTorch
(LSTM gates i, f, g, o; GRU gates r, z, n), so weights copy across one-to-one.

  RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
  LSTM: i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh); c' = f c + i g; h' = o tanh(c')
  GRU:  r, z = sigmoid(...); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h
"""

from __future__ import annotations

import math

import numpy as np

from groundup.grad.functional import linear
from groundup.grad.nn.module import Module, Parameter
from groundup.grad.ops import concatenate, split, stack
from groundup.grad.tensor import Tensor

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity: str = "tanh") -> Tensor:
    pre = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)  # (N, H)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(x, state, w_ih, w_hh, b_ih, b_hh) -> tuple[Tensor, Tensor]:
    h, c = state
    gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)  # (N, 4H)
    i, f, g, o = split(gates, h.shape[-1], axis=-1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh) -> Tensor:
    hidden = h.shape[-1]
    xr, xz, xn = split(linear(x, w_ih, b_ih), hidden, axis=-1)  # each (N, H)
    hr, hz, hn = split(linear(h, w_hh, b_hh), hidden, axis=-1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1 - z) * n + z * h


def _uniform(shape, bound, dtype, rng) -> Parameter:
    return Parameter(rng.uniform(-bound, bound, shape).astype(dtype))


class _Cell(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        k, bound = GATES[self.kind] * hidden_size, 1 / math.sqrt(hidden_size)
        self.hidden_size = hidden_size
        self.weight_ih = _uniform((k, input_size), bound, dtype, rng)
        self.weight_hh = _uniform((k, hidden_size), bound, dtype, rng)
        self.bias_ih = _uniform((k,), bound, dtype, rng) if bias else None
        self.bias_hh = _uniform((k,), bound, dtype, rng) if bias else None

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, bias, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        return rnn_step(x, self._zeros(x) if h is None else h, *self._weights(), self.nonlinearity)


class LSTMCell(_Cell):
    kind = "lstm"

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, Tensor]:
        state = (self._zeros(x), self._zeros(x)) if state is None else state
        return lstm_step(x, state, *self._weights())


class GRUCell(_Cell):
    kind = "gru"

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        return gru_step(x, self._zeros(x) if h is None else h, *self._weights())


class _Recurrent(Module):
    """Stacked recurrent layers over a sequence (T, N, in), or (N, T, in) with batch_first.

    `bidirectional=True` runs a second set of weights (names ending in `_reverse`, as in torch) over
    the reversed sequence; each layer's output is [forward state; backward state] (2H features), and
    the final states are ordered layer by layer, forward before backward: (layers * 2, N, H).
    """

    kind = "rnn"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dtype=np.float32,
        rng=None,
    ):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.nonlinearity, self.bias = batch_first, nonlinearity, bias
        self.bidirectional = bidirectional
        self.directions = ("", "_reverse") if bidirectional else ("",)
        k, bound = GATES[self.kind] * hidden_size, 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * len(self.directions)
            for suffix in self.directions:
                setattr(self, f"weight_ih_l{layer}{suffix}", _uniform((k, width), bound, dtype, rng))
                setattr(self, f"weight_hh_l{layer}{suffix}", _uniform((k, hidden_size), bound, dtype, rng))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", _uniform((k,), bound, dtype, rng))
                    setattr(self, f"bias_hh_l{layer}{suffix}", _uniform((k,), bound, dtype, rng))

    def _layer_weights(self, layer: int, suffix: str = ""):
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(self._parameters.get(f"{n}_l{layer}{suffix}") for n in names)

    def _initial(self, x: Tensor, given):
        rows = self.num_layers * len(self.directions)
        zeros = Tensor(np.zeros((rows, x.shape[1], self.hidden_size), x.dtype))
        return zeros if given is None else given

    def _run(self, steps: list[Tensor], weights, h: Tensor, c: Tensor | None):
        """One direction of one layer over `steps` (each (N, in)): (outputs, final h, final c)."""
        outputs = []
        for xt in steps:
            if self.kind == "lstm":
                h, c = lstm_step(xt, (h, c), *weights)
            elif self.kind == "gru":
                h = gru_step(xt, h, *weights)
            else:
                h = rnn_step(xt, h, *weights, self.nonlinearity)
            outputs.append(h)
        return outputs, h, c

    def forward(self, x: Tensor, state=None):
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input shape {x.shape} needs 3 dims ending in {self.input_size}"
            )
        if self.batch_first:
            x = x.transpose(0, 1)  # (T, N, in)
        if self.kind == "lstm":
            h0, c0 = (None, None) if state is None else state
            h0, c0 = self._initial(x, h0), self._initial(x, c0)
        else:
            h0, c0 = self._initial(x, state), None
        steps = [x[t] for t in range(x.shape[0])]
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            per_direction = []
            for d, suffix in enumerate(self.directions):
                row = layer * len(self.directions) + d
                order = steps if d == 0 else steps[::-1]  # the backward direction reads T-1 .. 0
                c = c0[row] if c0 is not None else None
                outputs, h, c = self._run(order, self._layer_weights(layer, suffix), h0[row], c)
                per_direction.append(outputs if d == 0 else outputs[::-1])
                finals_h.append(h)
                finals_c.append(c)
            if len(per_direction) == 1:
                steps = per_direction[0]
            else:
                steps = [concatenate(pair, axis=-1) for pair in zip(*per_direction)]  # (N, 2H) each
        out = stack(steps, axis=0)  # (T, N, D*H)
        if self.batch_first:
            out = out.transpose(0, 1)
        h_n = stack(finals_h, axis=0)  # (layers * D, N, H)
        if self.kind == "lstm":
            return out, (h_n, stack(finals_c, axis=0))
        return out, h_n


class RNN(_Recurrent):
    kind = "rnn"


class LSTM(_Recurrent):
    kind = "lstm"


class GRU(_Recurrent):
    kind = "gru"
