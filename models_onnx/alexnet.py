"""AlexNet: torchvision's single-tower variant and Krizhevsky et al. (2012).

Why two: torchvision's ``alexnet`` (64-192-384-256-256, from the "one weird
trick" paper) is what most tools report, while the original two-GPU network
(96-256-384-384-256 with grouped convs and LRN) is the textbook reference
for the (V - R + 2Z)/S + 1 output-size exercise and its 60,965,224 params.
"""

from __future__ import annotations

from functools import partial
from collections.abc import Sequence

from .builder import (
    LRN, Conv, Dropout, GraphBuilder, Layer, Linear, MaxPool, ModelSpec, ReLU, sequential,
)

#: Krizhevsky's LRN hyper-parameters (k=2, n=5, alpha=1e-4, beta=0.75). ONNX,
#: like Caffe and torch, divides alpha by ``size`` inside the sum.
_LRN = LRN(size=5, alpha=1e-4, beta=0.75, bias=2.0)

TORCHVISION_FEATURES: tuple[Layer, ...] = (
    Conv(64, 11, stride=4, padding=2), ReLU(), MaxPool(3, 2),
    Conv(192, 5, padding=2), ReLU(), MaxPool(3, 2),
    Conv(384, 3, padding=1), ReLU(),
    Conv(256, 3, padding=1), ReLU(),
    Conv(256, 3, padding=1), ReLU(), MaxPool(3, 2),
)

#: groups=2 reproduces the two-GPU split: conv2, conv4 and conv5 only see the
#: kernel maps on their own GPU, conv3 sees all of them.
ORIGINAL_FEATURES: tuple[Layer, ...] = (
    Conv(96, 11, stride=4, padding=2), ReLU(), _LRN, MaxPool(3, 2),
    Conv(256, 5, padding=2, groups=2), ReLU(), _LRN, MaxPool(3, 2),
    Conv(384, 3, padding=1), ReLU(),
    Conv(384, 3, padding=1, groups=2), ReLU(),
    Conv(256, 3, padding=1, groups=2), ReLU(), MaxPool(3, 2),
)

CLASSIFIER: tuple[Layer, ...] = (
    Dropout(), Linear(4096), ReLU(), Dropout(), Linear(4096), ReLU(), Linear(1000),
)


def forward(g: GraphBuilder, x: str, features: Sequence[Layer]) -> str:
    """features -> (AdaptiveAvgPool 6x6: identity at 224, omitted) -> flatten -> classifier."""
    x, channels = sequential(g, x, "features", features, 3)
    x = g.flatten(x, "flatten")
    x, _ = sequential(g, x, "classifier", CLASSIFIER, channels * 6 * 6)
    return x


ZOO: dict[str, ModelSpec] = {
    "alexnet": ModelSpec(partial(forward, features=TORCHVISION_FEATURES), (3, 224, 224), (1000,),
                         "torchvision AlexNet (eval)"),
    "alexnet-original": ModelSpec(partial(forward, features=ORIGINAL_FEATURES), (3, 224, 224), (1000,),
                                  "AlexNet, Krizhevsky et al. 2012 (two-GPU grouped convs, LRN)"),
}
