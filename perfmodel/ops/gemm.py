"""Matrix products (ONNX Gemm, MatMul): MACs = rows x inner x cols, batched over leading dims."""

from __future__ import annotations

import math

from perfmodel.ops import ANY_INITIALIZER, GLOBAL, MAC, Cost, GemmDims, Node, numel, rule


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


B_SLOT = {"MatMul": 1, "MatMulInteger": 1, "QLinearMatMul": 3}


@rule("MatMul", kind=MAC, weights=(1,))
@rule("MatMulInteger", kind=MAC, weights=(1,), buffers=(2, 3))
@rule("QLinearMatMul", kind=MAC, weights=(3,), buffers=(1, 2, 4, 5, 6, 7))
def matmul(node: Node) -> Cost:
    """numpy matmul: a 1-D or 2-D B is shared, so M = all rows of A; a batched B repeats per batch (groups).
    MatMulInteger and QLinearMatMul: the same MACs on 8-bit operands (B at its own slot)."""
    slot = B_SLOT[node.op_type]
    a, b = node.inputs[0], node.inputs[slot]
    k = a[-1]
    n = b[-1] if len(b) > 1 else 1
    out = math.prod(node.out)
    if len(b) <= 2:
        dims = GemmDims(m=max(out // n, 1), k=k, n=n, weight_input=slot)
    else:
        m = a[-2] if len(a) > 1 else 1
        dims = GemmDims(m=m, k=k, n=n, groups=max(out // (m * n), 1), weight_input=slot)
    return Cost.of_gemm(dims, (1, GLOBAL))


def _einsum_terms(node: Node) -> tuple[list[str], str, dict[str, int]] | None:
    """Input terms, output term and each index letter's size, '...' spelled as capital letters."""
    spec = str(node.attrs.get("equation", "")).replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
    else:
        lhs, out = spec, None
    terms = lhs.split(",")
    if len(terms) != len(node.inputs):
        return None
    sizes: dict[str, int] = {}
    spelled = []
    for term, shape in zip(terms, node.inputs):
        if "..." in term:
            head, tail = term.split("...")
            extra = len(shape) - len(head) - len(tail)
            term = head + "".join(chr(ord("A") + i) for i in range(26 - extra, 26)) + tail
        if len(term) != len(shape):
            return None
        for letter, dim in zip(term, shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)
        spelled.append(term)
    if out is None:  # implicit output: the letters seen once, in alphabetical order
        out = "".join(sorted(c for c in sizes if sum(t.count(c) for t in spelled) == 1))
    elif "..." in out:
        ell = "".join(sorted(c for c in sizes if c.isupper()))
        out = out.replace("...", ell)
    return spelled, out, sizes


def _check_einsum(node: Node) -> str | None:
    return None if _einsum_terms(node) is not None else f"equation {node.attrs.get('equation')!r} does not fit its inputs"


@rule("Einsum", kind=MAC, weights=ANY_INITIALIZER, check=_check_einsum)
def einsum(node: Node) -> Cost:
    """Two operands: a batched GEMM over the letters: batch = in A, B and the output; M = A and output only;
    N = B and output only; K = A and B, not the output (contracted); MACs = product of every letter's size.
    One operand (a sum or a trace): no MACs, one add per input element (ONNX Einsum)."""
    spelled, out, sizes = _einsum_terms(node)
    if len(spelled) != 2:
        return Cost(0, sum(numel(s) for s in node.inputs))
    a, b = set(spelled[0]), set(spelled[1])
    o = set(out)

    def size(letters) -> int:
        return math.prod(sizes[c] for c in letters)

    dims = GemmDims(m=size((a & o) - b), k=size((a & b) - o), n=size((b & o) - a), groups=size(a & b & o),
                    weight_input=1)
    extra = size((a | b) - o - (a & b))  # a letter summed away from one operand alone
    return Cost(dims.macs * extra, 2 * dims.macs * extra, (1, GLOBAL), dims if extra == 1 else None)
