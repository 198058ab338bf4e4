"""LeNet-5 for 1x28x28 MNIST digits (the common PyTorch formulation).

Why this variant: padding the first 5x5 conv by 2 lets 28x28 MNIST stand in
for the paper's 32x32 input, giving the classic 16x5x5 = 400 -> 120 -> 84 -> 10
classifier (61,706 params). ReLU and max-pool replace tanh and subsampling.
"""

from __future__ import annotations

from .builder import Conv, GraphBuilder, Layer, Linear, MaxPool, ModelSpec, ReLU, sequential

FEATURES: tuple[Layer, ...] = (
    Conv(6, 5, padding=2), ReLU(), MaxPool(2),
    Conv(16, 5), ReLU(), MaxPool(2),
)
CLASSIFIER: tuple[Layer, ...] = (Linear(120), ReLU(), Linear(84), ReLU(), Linear(10))


def forward(g: GraphBuilder, x: str) -> str:
    x, channels = sequential(g, x, "features", FEATURES, 1)
    x = g.flatten(x, "flatten")
    x, _ = sequential(g, x, "classifier", CLASSIFIER, channels * 5 * 5)
    return x


ZOO: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(forward, (1, 28, 28), (10,), "LeNet-5 (28x28 input, ReLU, max-pool)"),
}
