"""Matrix products (ONNX Gemm, MatMul): MACs = rows x inner x cols, batched over leading dims."""

from __future__ import annotations

import math

from perfmodel.ops import GLOBAL, Cost, Node, rule


@rule("Gemm", weights=(1, 2), defaults={"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0})
def gemm(node: Node) -> Cost:
    """Y = alpha A'B' + beta C: MACs = M x K x N; FLOPs = 2 MACs (alpha, beta and the bias folded in)."""
    a = node.inputs[0]
    k = a[0] if node.attrs["transA"] else a[1]
    macs = math.prod(node.out) * k
    return Cost(macs, 2 * macs, (1, GLOBAL))


@rule("MatMul", weights=(1,))
def matmul(node: Node) -> Cost:
    """numpy matmul semantics: MACs = prod(output) x K, K the last dim of A (1-D A is a row vector)."""
    k = node.inputs[0][-1]
    macs = math.prod(node.out) * k
    return Cost(macs, 2 * macs, (1, GLOBAL))
