"""VGG 11/13/16/19 with and without BatchNorm (torchvision configs A, B, D, E).

Why a table: all eight variants differ only in the number of 3x3 convs per
stage and whether a BatchNorm follows each conv, exactly as torchvision's
``cfgs`` + ``make_layers`` express it.
"""

from __future__ import annotations

from functools import partial

from .builder import (
    BatchNorm, Conv, Dropout, GraphBuilder, Layer, Linear, MaxPool, ModelSpec, ReLU, sequential,
)

#: conv widths per layer, "M" = 2x2 max-pool (torchvision's cfgs).
CFGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}

CLASSIFIER: tuple[Layer, ...] = (
    Linear(4096), ReLU(), Dropout(), Linear(4096), ReLU(), Dropout(), Linear(1000),
)


def make_layers(cfg: list[int | str], batch_norm: bool) -> list[Layer]:
    """torchvision's ``make_layers``: conv (bias kept even with BN) [+ BN] + ReLU."""
    layers: list[Layer] = []
    for v in cfg:
        if v == "M":
            layers.append(MaxPool(2, 2))
        else:
            layers += [Conv(int(v), 3, padding=1)] + ([BatchNorm()] if batch_norm else []) + [ReLU()]
    return layers


def forward(g: GraphBuilder, x: str, depth: int, batch_norm: bool) -> str:
    """features -> (AdaptiveAvgPool 7x7: identity at 224, omitted) -> flatten -> classifier."""
    x, channels = sequential(g, x, "features", make_layers(CFGS[depth], batch_norm), 3)
    x = g.flatten(x, "flatten")
    x, _ = sequential(g, x, "classifier", CLASSIFIER, channels * 7 * 7)
    return x


ZOO: dict[str, ModelSpec] = {
    f"vgg{depth}{'_bn' if bn else ''}": ModelSpec(
        partial(forward, depth=depth, batch_norm=bn), (3, 224, 224), (1000,),
        f"torchvision VGG-{depth}{' with BatchNorm' if bn else ''} (eval)",
    )
    for depth in CFGS
    for bn in (False, True)
}
