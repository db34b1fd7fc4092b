"""Layers and containers on top of `groundup.grad.Tensor`, named and shaped like torch.nn."""

from groundup.grad.nn import init
from groundup.grad.nn.attention import MultiHeadAttention
from groundup.grad.nn.layers import (
    GELU,
    AvgPool2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    SiLU,
    Tanh,
)
from groundup.grad.nn.module import LoadReport, Module, Parameter, Sequential, StateDictError
from groundup.grad.nn.norm import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, RMSNorm
from groundup.grad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GroupNorm",
    "InstanceNorm2d",
    "LSTMCell",
    "LayerNorm",
    "Linear",
    "LoadReport",
    "MaxPool2d",
    "Module",
    "MultiHeadAttention",
    "Parameter",
    "RMSNorm",
    "RNNCell",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "init",
]
