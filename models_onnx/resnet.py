"""ResNet 18/34/50/101/152, torchvision v1.5 layout.

Why one block function: BasicBlock (two 3x3) and Bottleneck (1x1, 3x3, 1x1
with expansion 4, stride on the 3x3 as in v1.5) share the same skeleton:
conv+BN(+ReLU) stack, optional conv1x1+BN downsample, Add, ReLU.
"""

from __future__ import annotations

from functools import partial

from .builder import GraphBuilder, ModelSpec

#: random-weight gamma scale of each block's last BN: keeps resnet152's random
#: activations O(1-100) instead of growing 2x per residual Add.
_RESIDUAL_BN_GAIN = 0.2

#: depth -> (bottleneck?, blocks per stage)
DEPTHS: dict[int, tuple[bool, tuple[int, int, int, int]]] = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}


def block(
    g: GraphBuilder, x: str, name: str, inplanes: int, planes: int, stride: int, bottleneck: bool
) -> tuple[str, int]:
    """One residual block; returns the output tensor and its channel count."""
    expansion = 4 if bottleneck else 1
    # (kernel, out_channels, stride) per conv, named conv1.., bn1.. as in torchvision
    convs = ([(1, planes, 1), (3, planes, stride), (1, planes * expansion, 1)] if bottleneck
             else [(3, planes, stride), (3, planes, 1)])
    out, channels = x, inplanes
    for i, (k, cout, s) in enumerate(convs, start=1):
        out = g.conv(out, f"{name}.conv{i}", channels, cout, k, s, k // 2, bias=False)
        out = g.batchnorm(out, f"{name}.bn{i}", cout, gain=1.0 if i < len(convs) else _RESIDUAL_BN_GAIN)
        channels = cout
        if i < len(convs):
            out = g.relu(out, f"{name}.relu")
    identity = x
    if stride != 1 or inplanes != channels:
        identity = g.conv(x, f"{name}.downsample.0", inplanes, channels, 1, stride, bias=False)
        identity = g.batchnorm(identity, f"{name}.downsample.1", channels)
    out = g.add(out, identity, f"{name}.add")
    return g.relu(out, f"{name}.relu"), channels


def forward(g: GraphBuilder, x: str, depth: int) -> str:
    """stem (7x7/2 conv, BN, ReLU, 3x3/2 maxpool) -> 4 stages -> GAP -> fc."""
    bottleneck, counts = DEPTHS[depth]
    x = g.conv(x, "conv1", 3, 64, 7, 2, 3, bias=False)
    x = g.batchnorm(x, "bn1", 64)
    x = g.relu(x, "relu")
    x = g.maxpool(x, "maxpool", 3, 2, 1)
    channels = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            x, channels = block(g, x, f"layer{stage}.{i}", channels, planes, stride, bottleneck)
    x = g.global_avgpool(x, "avgpool")
    x = g.flatten(x, "flatten")
    return g.gemm(x, "fc", channels, 1000)


ZOO: dict[str, ModelSpec] = {
    f"resnet{depth}": ModelSpec(partial(forward, depth=depth), (3, 224, 224), (1000,),
                                f"torchvision ResNet-{depth} v1.5 (eval, BN unfused)")
    for depth in DEPTHS
}
