"""The "course homework" MLP: 33 features -> 512 sigmoid units -> 10 classes.

Why: the smallest non-CNN reference, useful to check Gemm accounting by hand
(33*512 + 512 + 512*10 + 10 = 22,538 params). Layers are named like an
``nn.Sequential`` state_dict ("0.weight", "2.weight"). The zoo entry outputs
logits; pass ``softmax=True`` to ``forward`` for probabilities.
"""

from __future__ import annotations

from .builder import GraphBuilder, Linear, ModelSpec, Sigmoid, sequential


def forward(g: GraphBuilder, x: str, softmax: bool = False) -> str:
    x, _ = sequential(g, x, "", (Linear(512), Sigmoid(), Linear(10)), 33)
    return g.softmax(x, "softmax", axis=1) if softmax else x


ZOO: dict[str, ModelSpec] = {
    "mlp": ModelSpec(forward, (33,), (10,), "MLP 33-512-10 with sigmoid hidden layer"),
}
