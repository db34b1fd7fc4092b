"""Image classifiers: the CNN architecture zoo (curriculum 0.3), and the plain MLP they are measured against.

Every model maps images (B, C, H, W) to class logits (B, num_classes), like torchvision's, so the
same training loop (`groundup.train.tasks`), the quantizers and the pruners take any of them.

The families, each one readable class built from a few shared blocks:

- LeNet-5 (LeCun 1998): two conv-pool stages and three fully connected layers, on 28x28 digits.
- AlexNet (Krizhevsky 2012): five convolutions, ReLU, overlapping max-pooling, dropout in a wide head.
- VGG-11/16 (Simonyan & Zisserman 2014): only 3x3 convolutions in stages split by 2x2 max-pools,
  with or without BatchNorm.
- ResNet-18/34/50 (He 2015): residual blocks y = relu(F(x) + shortcut(x)); BasicBlock (two 3x3) or
  Bottleneck (1x1 reduce, 3x3, 1x1 expand x4); a 1x1 projection shortcut where the shape changes.
  The paper's CIFAR ResNet-(6n+2) and its plain twin (no shortcuts) are `CifarResNet`.
- GoogLeNet (Szegedy 2014): Inception blocks, four parallel branches (1x1, 1x1-3x3, 1x1-3x3, pool-1x1)
  concatenated along channels (torchvision's reading: its "5x5" branch uses a 3x3 kernel).
- MobileNetV2 (Sandler 2018): inverted residuals, 1x1 expand -> 3x3 depthwise -> 1x1 linear project.
- EfficientNet-B0 (Tan & Le 2019): MBConv blocks with squeeze-excitation and stochastic depth; widths
  and depths scale together (compound scaling: channels x width_mult, repeats x depth_mult).
- DenseNet-121 (Huang 2017): every layer receives the concatenation of all earlier feature maps of its
  block; transitions halve channels and resolution.

Module and parameter names follow torchvision's models, so a state dict moves between ours and theirs
unchanged (the tests load ours into torchvision and compare outputs; `tests/vision/` lists the checks).
ImageNet-size models take `small_input=True` for 32x32 images (CIFAR-style stems: a 3x3 stride-1 first
convolution and no early pooling; VGG/AlexNet get a global-pool head), and `width` thins every hidden
layer for CPU training; the defaults build exactly the published networks.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from groundup.errors import GroundupError


class ImageShapeError(GroundupError, ValueError):
    """Images whose shape or channel count does not fit the model."""


class ImageClassifier(nn.Module):
    """Base of the zoo: remembers the channels and smallest image side a model accepts, and checks them."""

    in_channels: int = 3
    min_size: int = 1

    def check_input(self, x: torch.Tensor) -> None:
        """Refuse anything but (B, in_channels, H, W) with H, W >= min_size, naming both shapes."""
        c, s = self.in_channels, self.min_size
        if x.dim() != 4 or x.shape[1] != c or min(x.shape[-2:]) < s:
            raise ImageShapeError(
                f"{type(self).__name__} expects images (B, {c}, H, W) with H, W >= {s}, got {tuple(x.shape)}"
                f"; pad/resize the images or build the model with in_channels={x.shape[1] if x.dim() == 4 else '?'}"
            )


def scale(channels: int, width: float) -> int:
    """A hidden size thinned by `width` (at least 1)."""
    return max(1, int(round(channels * width)))


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of `divisor`, never dropping below 90% of `value`
    (MobileNet/EfficientNet keep channel counts hardware-friendly this way)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(
    cin: int,
    cout: int,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
    act: Callable[[], nn.Module] | None = nn.ReLU,
    eps: float = 1e-5,
) -> nn.Sequential:
    """Conv (no bias, 'same' padding) -> BatchNorm -> activation; children named 0, 1, 2."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def init_conv_net(model: nn.Module) -> None:
    """He-normal convolutions (fan-out), unit BatchNorm, small Linear weights: the usual CNN start."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm | nn.LayerNorm) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


# ---- LeNet-5 and the MLP ---------------------------------------------------------------------------------


class LeNet5(ImageClassifier):
    """LeNet-5 on 28x28 single-channel images; `width` multiplies every hidden size (a wider teacher).

    (B, 1, 28, 28) -conv5x5 pad 2-> (B, 6, 28, 28) -pool-> (B, 6, 14, 14) -conv5x5-> (B, 16, 10, 10)
    -pool-> (B, 16, 5, 5) -flatten-> 400 -> 120 -> 84 -> num_classes
    With image_size=32 the first convolution has no padding, as in the 1998 paper (32 -> 28).
    """

    def __init__(
        self, width: int = 1, num_classes: int = 10, in_channels: int = 1, image_size: int = 28
    ) -> None:
        super().__init__()
        if image_size not in (28, 32):
            raise ValueError(f"image_size must be 28 or 32, got {image_size}")
        self.in_channels, self.min_size = in_channels, image_size
        self.conv1 = nn.Conv2d(in_channels, 6 * width, 5, padding=2 if image_size == 28 else 0)
        self.conv2 = nn.Conv2d(6 * width, 16 * width, 5)
        self.fc1 = nn.Linear(16 * width * 25, 120 * width)
        self.fc2 = nn.Linear(120 * width, 84 * width)
        self.fc3 = nn.Linear(84 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, 28, 28) -> (B, num_classes)
        c, s = self.in_channels, self.min_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ImageShapeError(f"LeNet5 expects images (B, {c}, {s}, {s}), got {tuple(x.shape)}")
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 6w, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 16w, 5, 5)
        x = F.relu(self.fc1(x.flatten(1)))  # (B, 120w)
        return self.fc3(F.relu(self.fc2(x)))


def mlp_classifier(
    hidden: tuple[int, ...] = (256, 128), in_features: int = 784, num_classes: int = 10
) -> nn.Sequential:
    """Flatten -> [Linear -> ReLU] per hidden size -> Linear: (B, 1, 28, 28) -> (B, num_classes).

    A Sequential, so its Linears are addressed by index ("1", "3", "5" for two hidden layers).
    """
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


# ---- AlexNet ---------------------------------------------------------------------------------------------


class AlexNet(ImageClassifier):
    """AlexNet as torchvision builds it (61,100,840 parameters at 1000 classes).

    ImageNet: 11x11/4 -> pool -> 5x5 -> pool -> 3x3 x3 -> pool -> adaptive 6x6 -> 4096 -> 4096 -> classes.
    small_input (the CIFAR-size variant): 3x3 stride-1 convolutions with three 2x2 pools, 32 -> 4x4,
    and a 1024-wide head.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, *, small_input: bool = False, width: float = 1.0
    ):
        super().__init__()
        self.in_channels, self.min_size = in_channels, 8 if small_input else 63
        c = [scale(n, width) for n in (64, 192, 384, 256, 256)]
        if small_input:
            k, first, pool = (3, 3, 3, 3, 3), dict(stride=1, padding=1), lambda: nn.MaxPool2d(2)
        else:
            k, first, pool = (11, 5, 3, 3, 3), dict(stride=4, padding=2), lambda: nn.MaxPool2d(3, 2)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c[0], k[0], **first), nn.ReLU(inplace=True), pool(),
            nn.Conv2d(c[0], c[1], k[1], padding=k[1] // 2), nn.ReLU(inplace=True), pool(),
            nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), pool(),
        )  # fmt: skip
        side, hidden = (4, scale(1024, width)) if small_input else (6, scale(4096, width))
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(c[4] * side * side, hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# ---- VGG -------------------------------------------------------------------------------------------------

VGG_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


class VGG(ImageClassifier):
    """VGG-11/16: stacks of 3x3 convolutions (optionally with BatchNorm), five 2x2 max-pools, and a
    4096-4096 head over a 7x7 map (VGG-16: 138,357,544 parameters). small_input pools to 1x1 and uses a
    512-wide head."""

    def __init__(
        self,
        depth: int = 16,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        batch_norm: bool = False,
        small_input: bool = False,
        width: float = 1.0,
    ):
        super().__init__()
        if depth not in VGG_CONFIGS:
            raise ValueError(f"depth must be one of {sorted(VGG_CONFIGS)}, got {depth}")
        self.in_channels, self.min_size = in_channels, 32
        layers: list[nn.Module] = []
        cin = in_channels
        for v in VGG_CONFIGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            cout = scale(v, width)
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            layers += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        side, hidden = (1, scale(512, width)) if small_input else (7, scale(4096, width))
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Linear(cin * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# ---- ResNet ----------------------------------------------------------------------------------------------


def projection(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    """The projection shortcut: a strided 1x1 conv + BN where the residual's shape changes, else None
    (the identity shortcut)."""
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions; y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    `residual=False` drops the shortcut (and its projection): the "plain" block of He et al.'s
    degradation experiment, same layers and widths without the identity path."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.downsample = projection(cin, planes, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place where autograd allows (BatchNorm's backward does not need its output), as torchvision
        # does: the same arithmetic with fewer activation buffers
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        if self.residual:
            out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride, "ResNet v1.5") -> 1x1 expand to 4x planes, plus shortcut."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = projection(cin, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)  # in place, as in BasicBlock
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return F.relu(out, inplace=True)


RESNETS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)), 50: (Bottleneck, (3, 4, 6, 3))}


class ResNet(ImageClassifier):
    """ResNet-18/34/50: a stem, four stages of residual blocks (64, 128, 256, 512 planes; stages 2-4
    halve the resolution), global average pool, one Linear. ResNet-18 has 11,689,512 parameters and
    ResNet-50 25,557,032 at 1000 classes. small_input: 3x3 stride-1 stem without the max-pool."""

    def __init__(
        self,
        depth: int = 18,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        small_input: bool = False,
        width: float = 1.0,
    ):
        super().__init__()
        if depth not in RESNETS:
            raise ValueError(f"depth must be one of {sorted(RESNETS)}, got {depth}")
        block, counts = RESNETS[depth]
        self.in_channels, self.min_size = in_channels, 1
        stem = scale(64, width)
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(stem)
        cin = stem
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
            planes = scale(planes, width)
            stage = []
            for j in range(n):
                stage.append(block(cin, planes, 2 if (j == 0 and i > 1) else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        init_conv_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        x = self.maxpool(x)  # (B, 64w, H/4, W/4), or (B, 64w, H, W) with the small-input stem
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 512w*expansion, H/32, W/32)
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(ImageClassifier):
    """The CIFAR-style ResNet-(6n+2) of He et al. 2015 (section 4.2), or its plain twin.

    A 3x3 stem, three stages of n `BasicBlock`s (16, 32, 64 channels x `width`; stages 2 and 3 halve
    the resolution), global average pooling and one Linear: 6n + 2 weighted layers. With
    `residual=False` the blocks lose their shortcuts: the paper's "plain" network of the same depth and
    width, which the degradation experiment (0.10) and the loss-landscape slices (0.9) compare.
    """

    def __init__(
        self,
        depth: int = 20,
        num_classes: int = 10,
        in_channels: int = 1,
        width: float = 1.0,
        residual: bool = True,
    ):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self.in_channels = in_channels
        channels = [max(1, round(c * width)) for c in (16, 32, 64)]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU()
        )
        blocks, cin = [], channels[0]
        for stage, cout in enumerate(channels):
            for i in range(n):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1, residual))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)  # torch's default init: only the convolutions are He-normal
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> logits (B, classes)"""
        self.check_input(x)
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


# ---- GoogLeNet -------------------------------------------------------------------------------------------


class BasicConv(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU, with the children named conv and bn."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches over the same input, concatenated: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool->1x1.
    Output channels: ch1 + ch3 + ch5 + pool_proj; every branch keeps the spatial size."""

    def __init__(self, cin: int, ch1: int, ch3red: int, ch3: int, ch5red: int, ch5: int, pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv(cin, ch1, 1)
        self.branch2 = nn.Sequential(BasicConv(cin, ch3red, 1), BasicConv(ch3red, ch3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv(cin, ch5red, 1), BasicConv(ch5red, ch5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv(cin, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], dim=1)  # (B, ch1 + ch3 + ch5 + pool_proj, H, W)


INCEPTIONS = {  # name: (ch1, ch3red, ch3, ch5red, ch5, pool_proj); each block's input is the last output
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}  # fmt: skip


class GoogLeNet(ImageClassifier):
    """GoogLeNet (Inception v1) without the auxiliary classifiers (6,624,904 parameters at 1000 classes):
    stem, inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global pool, dropout, Linear.
    small_input: a 3x3 stride-1 stem without the first two pools."""

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, *, small_input: bool = False, width: float = 1.0
    ):
        super().__init__()
        self.in_channels, self.min_size = in_channels, 1
        w = lambda c: scale(c, width)  # noqa: E731
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        if small_input:
            self.conv1 = BasicConv(in_channels, w(64), 3, 1, 1)
            self.maxpool1, self.maxpool2 = nn.Identity(), nn.Identity()
        else:
            self.conv1 = BasicConv(in_channels, w(64), 7, 2, 3)
            self.maxpool1, self.maxpool2 = pool(), pool()
        self.conv2 = BasicConv(w(64), w(64), 1)
        self.conv3 = BasicConv(w(64), w(192), 3, padding=1)
        cin = w(192)
        for name, chans in INCEPTIONS.items():
            chans = [w(c) for c in chans]
            setattr(self, f"inception{name}", Inception(cin, *chans))
            cin = chans[0] + chans[2] + chans[4] + chans[5]
            if name == "3b":
                self.maxpool3 = pool()
            if name == "4e":
                self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(cin, num_classes)
        init_conv_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        for name in INCEPTIONS:
            x = getattr(self, f"inception{name}")(x)
            if name == "3b":
                x = self.maxpool3(x)
            elif name == "4e":
                x = self.maxpool4(x)
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


# ---- MobileNetV2 -----------------------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    """Expand (1x1, ReLU6) -> depthwise 3x3 (ReLU6) -> project (1x1, linear: no activation, so the thin
    bottleneck keeps its information); the residual joins when stride is 1 and channels match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = [] if expand == 1 else [conv_bn_act(cin, hidden, 1, act=nn.ReLU6)]
        layers += [
            conv_bn_act(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),  # depthwise
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# (expansion t, channels c, repeats n, first stride s) per stage
MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(ImageClassifier):
    """MobileNetV2: a 3x3/2 stem, 17 inverted residuals, a 1x1 conv to 1280, global pool, dropout, Linear
    (3,504,872 parameters at 1000 classes). small_input: stride 1 in the stem and the 24-channel stage."""

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, *, small_input: bool = False, width: float = 1.0
    ):
        super().__init__()
        self.in_channels, self.min_size = in_channels, 1
        cin = make_divisible(32 * width)
        last = make_divisible(1280 * max(1.0, width))
        layers: list[nn.Module] = [conv_bn_act(in_channels, cin, 3, 1 if small_input else 2, act=nn.ReLU6)]
        for t, c, n, s in MOBILENET_V2:
            cout = make_divisible(c * width)
            s = 1 if small_input and c == 24 else s
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn_act(cin, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))
        init_conv_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)  # (B, 1280)
        return self.classifier(x)


# ---- EfficientNet-B0 -------------------------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """Channel attention: global pool -> 1x1 squeeze (SiLU) -> 1x1 excite (sigmoid) -> rescale x."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)  # (B, C, 1, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


def stochastic_depth(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Drop the whole residual branch of each sample with probability p while training, rescaling the
    survivors by 1/(1-p) so the expectation is unchanged (Huang et al. 2016)."""
    if not training or p == 0.0:
        return x
    keep = torch.empty(x.shape[0], 1, 1, 1, device=x.device).bernoulli_(1 - p)
    return x * keep / (1 - p)


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation: [1x1 expand] -> kxk depthwise -> SE -> 1x1
    project, all SiLU but the projection; residual + stochastic depth when the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, drop: float):
        super().__init__()
        hidden = make_divisible(cin * expand)
        self.use_res_connect = stride == 1 and cin == cout
        self.drop = drop
        layers: list[nn.Module] = [] if expand == 1 else [conv_bn_act(cin, hidden, 1, act=nn.SiLU)]
        layers += [
            conv_bn_act(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU),
            SqueezeExcitation(hidden, max(1, cin // 4)),
            conv_bn_act(hidden, cout, 1, act=None),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + stochastic_depth(out, self.drop, self.training) if self.use_res_connect else out


# (expansion, kernel, first stride, in channels, out channels, repeats) per stage
EFFICIENTNET_B0 = (
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
)  # fmt: skip


class EfficientNet(ImageClassifier):
    """EfficientNet with compound scaling: B0 is width_mult = depth_mult = 1 (5,288,548 parameters at
    1000 classes); channels scale by width_mult (rounded to multiples of 8), repeats by depth_mult
    (rounded up). Stochastic depth grows linearly to `drop_path` over the blocks.
    small_input: stride 1 in the stem and in the 24-channel stage."""

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        dropout: float = 0.2,
        drop_path: float = 0.2,
        small_input: bool = False,
    ):
        super().__init__()
        self.in_channels, self.min_size = in_channels, 1
        stages = [
            (t, k, 1 if small_input and cout == 24 else s, make_divisible(cin * width_mult),
             make_divisible(cout * width_mult), math.ceil(n * depth_mult))
            for t, k, s, cin, cout, n in EFFICIENTNET_B0
        ]  # fmt: skip
        total, seen = sum(st[-1] for st in stages), 0
        layers: list[nn.Module] = [
            conv_bn_act(in_channels, stages[0][3], 3, 1 if small_input else 2, act=nn.SiLU)
        ]
        for t, k, s, cin, cout, n in stages:
            stage = []
            for i in range(n):
                stage.append(
                    MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, t, drop_path * seen / total)
                )
                seen += 1
            layers.append(nn.Sequential(*stage))
        last = 4 * stages[-1][4]
        layers.append(conv_bn_act(stages[-1][4], last, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        init_conv_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# ---- DenseNet-121 ----------------------------------------------------------------------------------------


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 (to bn_size * growth) -> BN-ReLU-3x3 (to growth): the `growth` new channels this
    layer adds to everything its block has produced so far."""

    def __init__(self, cin: int, growth: int, bn_size: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, dim=1)  # (B, cin, H, W): every earlier map of the block
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))  # (B, growth, H, W)


class DenseBlock(nn.ModuleDict):
    """n DenseLayers; layer i sees cin + i * growth channels; the block returns all of them concatenated."""

    def __init__(self, n: int, cin: int, growth: int, bn_size: int):
        super().__init__(
            {f"denselayer{i + 1}": DenseLayer(cin + i * growth, growth, bn_size) for i in range(n)}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, dim=1)  # (B, cin + n * growth, H, W)


def transition(cin: int, cout: int) -> nn.Sequential:
    """BN-ReLU-1x1 conv (compress channels) -> 2x2 average pool (halve the resolution)."""
    return nn.Sequential(OrderedDict(norm=nn.BatchNorm2d(cin), relu=nn.ReLU(inplace=True),
                                     conv=nn.Conv2d(cin, cout, 1, bias=False), pool=nn.AvgPool2d(2, 2)))  # fmt: skip


class DenseNet(ImageClassifier):
    """DenseNet-121: a stem, four dense blocks of (6, 12, 24, 16) layers, growth 32, transitions that halve
    the channels, a final BN (7,978,856 parameters at 1000 classes). small_input: 3x3 stride-1 stem, no pool."""

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        blocks: Sequence[int] = (6, 12, 24, 16),
        growth: int = 32,
        init_features: int = 64,
        bn_size: int = 4,
        small_input: bool = False,
    ):
        super().__init__()
        self.in_channels, self.min_size = in_channels, 1
        if small_input:
            stem = [("conv0", nn.Conv2d(in_channels, init_features, 3, 1, 1, bias=False))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, init_features, 7, 2, 3, bias=False))]
        stem += [("norm0", nn.BatchNorm2d(init_features)), ("relu0", nn.ReLU(inplace=True))]
        if not small_input:
            stem.append(("pool0", nn.MaxPool2d(3, 2, 1)))
        self.features = nn.Sequential(OrderedDict(stem))
        c = init_features
        for i, n in enumerate(blocks, start=1):
            self.features.add_module(f"denseblock{i}", DenseBlock(n, c, growth, bn_size))
            c += n * growth
            if i < len(blocks):
                self.features.add_module(f"transition{i}", transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        init_conv_net(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = F.relu(self.features(x))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


# ---- builders --------------------------------------------------------------------------------------------


def build(name: str, num_classes: int = 1000, **kwargs) -> nn.Module:
    """A zoo model by torchvision's name (resnet18, vgg16_bn, mobilenet_v2, ...); kwargs go to the class."""
    if name not in ZOO:
        raise ValueError(f"name must be one of {', '.join(ZOO)}, got {name!r}")
    return ZOO[name](num_classes=num_classes, **kwargs)


ZOO: dict[str, Callable[..., nn.Module]] = {
    "alexnet": AlexNet,
    "vgg11": lambda **kw: VGG(11, **kw),
    "vgg11_bn": lambda **kw: VGG(11, batch_norm=True, **kw),
    "vgg16": lambda **kw: VGG(16, **kw),
    "vgg16_bn": lambda **kw: VGG(16, batch_norm=True, **kw),
    "resnet18": lambda **kw: ResNet(18, **kw),
    "resnet34": lambda **kw: ResNet(34, **kw),
    "resnet50": lambda **kw: ResNet(50, **kw),
    "googlenet": GoogLeNet,
    "mobilenet_v2": MobileNetV2,
    "efficientnet_b0": EfficientNet,
    "densenet121": DenseNet,
}
