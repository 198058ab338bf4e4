"""Matrix products (ONNX Gemm, MatMul): MACs = rows x inner x cols, batched over leading dims."""

from __future__ import annotations

import math

from perfmodel.ops import GLOBAL, MAC, Cost, GemmDims, Node, rule


def _broadcastable(bias: tuple[int, ...], m: int, n: int) -> bool:
    """ONNX Gemm: C is unidirectionally broadcastable to (M, N)."""
    return len(bias) <= 2 and all(b in (1, t) for b, t in zip(reversed(bias), (n, m)))


def _check_gemm(node: Node) -> str | None:
    """A' is M x K, B' is K x N with the same K; C broadcasts to (M, N) (ONNX Gemm)."""
    a, b = node.inputs[0], node.inputs[1]
    if len(a) != 2 or len(b) != 2:
        return f"A and B must be 2-D, got {list(a)} and {list(b)}"
    if len(node.inputs) > 2 and node.inputs[2] is not None and not _broadcastable(node.inputs[2], *node.out):
        return f"bias C {list(node.inputs[2])} does not broadcast to the output {list(node.out)}"
    return None


@rule("Gemm", kind=MAC, weights=(1, 2), check=_check_gemm)
def gemm(node: Node) -> Cost:
    """Y = alpha A'B' + beta C: M x K by K x N, transA/transB applied (ONNX Gemm)."""
    a = node.inputs[0]
    m, n = node.out
    k = a[0] if node.attrs["transA"] else a[1]
    bias = 2 if len(node.inputs) > 2 and node.inputs[2] else None
    return Cost.of_gemm(GemmDims(m, k, n, weight_input=1, bias_input=bias), (1, GLOBAL))


@rule("MatMul", kind=MAC, weights=(1,))
def matmul(node: Node) -> Cost:
    """numpy matmul: a 1-D or 2-D B is shared, so M = all rows of A; a batched B repeats per batch (groups)."""
    a, b = node.inputs[0], node.inputs[1]
    k = a[-1]
    n = b[-1] if len(b) > 1 else 1
    out = math.prod(node.out)
    if len(b) <= 2:
        dims = GemmDims(m=max(out // n, 1), k=k, n=n, weight_input=1)
    else:
        m = a[-2] if len(a) > 1 else 1
        dims = GemmDims(m=m, k=k, n=n, groups=max(out // (m * n), 1), weight_input=1)
    return Cost.of_gemm(dims, (1, GLOBAL))
