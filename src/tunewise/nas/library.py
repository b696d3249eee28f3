"""Ready primitives for convolutional architectures.

:data:`PRIMITIVES` holds the NAS-Bench-201 cell operations (Dong & Yang, ICLR 2020) under their
benchmark names and short aliases, a residual down-sampling block, and the conv-block operations
of the hierarchical NAS-Bench-201 space (Schrodi et al., NeurIPS 2023, ``conv_block.cfg``):

=====================================  ======================================  ==============
names                                  operation                               shape
=====================================  ======================================  ==============
``none``, ``zero``                     zeros (an absent edge)                  same
``skip_connect``, ``id``               identity                                same
``nor_conv_1x1``, ``conv1x1``          ReLU-Conv1x1-BN                         same
``nor_conv_3x3``, ``conv3x3``          ReLU-Conv3x3-BN                         same
``avg_pool_3x3``, ``avgpool3x3``,      3x3 average pooling                     same
``avg_pool``
``down``, ``resBlock``                 ResNet basic block, stride 2            2x channels, /2
``conv3x3o``, ``conv1x1o``             plain convolution                       same
``dconv3x3o``                          depthwise 3x3 convolution               same
``batch``, ``instance``, ``layer``     BatchNorm, InstanceNorm, GroupNorm(1)   same
``relu``, ``hardswish``, ``mish``      activation                              same
=====================================  ======================================  ==============

``layer`` is ``GroupNorm(1, C)``: normalisation over (C, H, W) as the paper's lazily sized
``LayerNorm``, with per-channel affine weights so it needs no input size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tunewise.nas.parts import Primitive, double


class ReLUConvBN(nn.Sequential):
    """ReLU, ``kernel x kernel`` convolution (padding ``kernel // 2``), BatchNorm: NB201's conv."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """Zeros of shape ``(B, c_out, ceil(H / stride), ceil(W / stride))``: NB201's ``none``."""

    def __init__(self, c_out: int, stride: int = 1):
        super().__init__()
        self.c_out = c_out
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        if x.shape[1] == self.c_out:
            return x[:, :, ::s, ::s].mul(0.0)
        h, w = math.ceil(x.shape[2] / s), math.ceil(x.shape[3] / s)
        return x.new_zeros(x.shape[0], self.c_out, h, w)


class AvgPool(nn.Sequential):
    """3x3 average pooling (a 1x1 ReLU-Conv-BN first if the channels change)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        pre = [ReLUConvBN(c_in, c_out, 1)] if c_in != c_out else []
        super().__init__(*pre, nn.AvgPool2d(3, stride, padding=1, count_include_pad=False))


class ResNetBasicBlock(nn.Module):
    """Two 3x3 ReLU-Conv-BN plus a shortcut (avg-pool + 1x1 conv when the shape changes).

    NB201's reduction block; the pool uses ``ceil_mode`` so odd sizes give ``ceil(H / 2)`` too.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut: nn.Module
        if stride > 1:
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False),
                nn.Conv2d(c_in, c_out, 1, bias=False),
            )
        elif c_in != c_out:
            self.shortcut = ReLUConvBN(c_in, c_out, 1)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv_b(self.conv_a(x)) + self.shortcut(x)
        return y


def _identity(c_in: int, c_out: int, stride: int) -> nn.Module:
    return nn.Identity() if (c_in, stride) == (c_out, 1) else ReLUConvBN(c_in, c_out, 1, stride)


def _conv(kernel: int) -> Primitive:
    return Primitive(lambda c_in, c_out, s: ReLUConvBN(c_in, c_out, kernel, s))


def _plain(kernel: int, depthwise: bool = False) -> Primitive:
    def make(c_in: int, c_out: int, s: int) -> nn.Module:
        groups = c_in if depthwise else 1
        return nn.Conv2d(c_in, c_out, kernel, s, padding=kernel // 2, groups=groups, bias=False)

    return Primitive(make)


_ZERO = Primitive(lambda c_in, c_out, s: Zero(c_out, s), zero=True)
_ID = Primitive(_identity)
_POOL = Primitive(AvgPool)
_DOWN = Primitive(ResNetBasicBlock, channels=double, stride=2)

PRIMITIVES: dict[str, Primitive] = {
    "none": _ZERO,
    "zero": _ZERO,
    "skip_connect": _ID,
    "id": _ID,
    "nor_conv_1x1": _conv(1),
    "conv1x1": _conv(1),
    "nor_conv_3x3": _conv(3),
    "conv3x3": _conv(3),
    "avg_pool_3x3": _POOL,
    "avgpool3x3": _POOL,
    "avg_pool": _POOL,
    "down": _DOWN,
    "resBlock": _DOWN,
    "conv3x3o": _plain(3),
    "conv1x1o": _plain(1),
    "dconv3x3o": _plain(3, depthwise=True),
    "batch": Primitive(lambda c, _c, _s: nn.BatchNorm2d(c)),
    "instance": Primitive(lambda c, _c, _s: nn.InstanceNorm2d(c, affine=True)),
    "layer": Primitive(lambda c, _c, _s: nn.GroupNorm(1, c)),
    "relu": Primitive(lambda _c, _o, _s: nn.ReLU()),
    "hardswish": Primitive(lambda _c, _o, _s: nn.Hardswish()),
    "mish": Primitive(lambda _c, _o, _s: nn.Mish()),
}
"""Ready primitives by name (see the module docstring); :func:`tunewise.nas.build`'s default."""
