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
# # 2. Convolutional networks: a filter by hand, a NumPy CNN, LeNet-5 in PyTorch
#
# A convolution slides one small set of weights over the whole image, so a 3×3 filter has 9 weights
# whatever the image size, and a feature learnt in one corner is found everywhere. For an input
# $x$ of shape $(C, H, W)$ and a weight $w$ of shape $(O, C, k, k)$:
#
# $$y_{o,i,j} = b_o + \sum_{c=0}^{C-1} \sum_{u=0}^{k-1} \sum_{v=0}^{k-1} w_{o,c,u,v}\, x_{c,\, i+u,\, j+v}$$
#
# The notes: [0.3 CNNs in NumPy](../docs/notes/0.3-cnn-numpy.md) and
# [the CNN zoo](../docs/notes/0.3-cnn-zoo.md). `tests/grad/` checks `conv2d` and its gradients against
# `torch.nn.functional.conv2d`.

# %%
import matplotlib.pyplot as plt
import numpy as np

from groundup.grad import Tensor
from groundup.grad.conv import conv2d, max_pool2d
from groundup.grad.demos import training

data = training.load_mnist(seed=0)
digit = data.x_train[:1]  # (1, 1, 28, 28)
print("label:", data.y_train[0])

# %% [markdown]
# ## A filter by hand
#
# Two fixed Sobel filters respond to vertical and horizontal edges. Max-pooling keeps the strongest
# response in each 2×2 window, halving the resolution.

# %%
sobel = np.array([[[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]], [[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]]], np.float32)
edges = conv2d(Tensor(digit), Tensor(sobel), padding=1)  # (1, 2, 28, 28)
pooled = max_pool2d(edges, 2)  # (1, 2, 14, 14)
print("conv:", edges.shape, "pooled:", pooled.shape)
fig, axes = plt.subplots(1, 4, figsize=(9, 2.4))
for ax, image, title in zip(
    axes,
    [digit[0, 0], edges.data[0, 0], edges.data[0, 1], pooled.data[0, 0]],
    ["digit", "vertical edges", "horizontal edges", "pooled (vertical)"],
):
    ax.imshow(image, cmap="gray")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## A small CNN in NumPy
#
# `training.cnn()`: two blocks of conv 3×3 → ReLU → max-pool, then one linear layer; 28×28 → 7×7×32
# → 10 classes, with only ~20k weights. One epoch on 1,000 digits here (the command
# `groundup grad demo cnn` trains on all 4,000).

# %%
small = training.MnistArrays(data.x_train[:1000], data.y_train[:1000], data.x_test, data.y_test)
cnn = training.cnn(seed=0)
print("parameters:", sum(p.data.size for p in cnn.parameters()))
history = training.fit(cnn, small, training.make_optimizer("adam", cnn.parameters()), epochs=1, batch_size=64)
print(
    f"{len(history.losses)} steps in {history.seconds:.1f} s, test accuracy {history.test_accuracy[-1]:.3f}"
)
assert history.test_accuracy[-1] > 0.6

# %% [markdown]
# ## LeNet-5 in PyTorch, from the zoo
#
# `groundup.models.cnn` holds the zoo (LeNet-5, AlexNet, VGG, ResNet, GoogLeNet, MobileNetV2,
# EfficientNet) and `groundup.train.tasks.train_classifier` the loop. Two epochs on the 4,000 digits:

# %%
import torch

from groundup.models.cnn import LeNet5
from groundup.train.tasks import accuracy, load_mnist, train_classifier

torch.manual_seed(0)
splits = load_mnist()
lenet = train_classifier(LeNet5(), splits.x_train, splits.y_train, epochs=2, progress=False)
acc = accuracy(lenet, splits.x_test, splits.y_test)
print(f"LeNet-5: {sum(p.numel() for p in lenet.parameters()):,} parameters, test accuracy {acc:.3f}")
assert acc > 0.9

# %%
filters = lenet.conv1.weight.detach()[:, 0]  # (6, 5, 5)
fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for ax, f in zip(axes, filters):
    ax.imshow(f, cmap="RdBu")
    ax.axis("off")
fig.suptitle("LeNet-5's learnt first-layer filters")
plt.show()

# %% [markdown]
# Next: the zoo capstone (`groundup vision zoo`) trains every architecture with the same budget, and
# `groundup vision gradcam` shows Grad-CAM maps of what they look at.
