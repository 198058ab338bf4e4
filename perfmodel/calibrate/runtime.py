"""Calibration in a runtime (onnxruntime): microbenchmarks chosen independently of any model, and a fit
per layer class of the runtime's achieved efficiency (perfmodel.efficiency).

The sweep: dense convs 1x1, 3x3, 5x5, 7x7 (strided and not, down to 1x1 spatial) over channel counts
and sizes, as chains of four conv + BatchNorm + ReLU blocks (some ending in a residual Add), grouped
and depthwise convs the same way, so per-run costs are shared as a model shares them; chains of four
inverted-residual, squeeze-excite and channel-shuffle blocks; GEMMs (FC at batch 1 and batched) and
MatMuls (attention-style); element-wise ops, pooling, softmax and normalization, large and small.
Each is built with onnx.helper, analyzed and fused by perfmodel (so its roofline terms are the ones a
model's groups get, `efficiency.near_memory_s`) and run in onnxruntime with its default session
options (all graph optimizations, default threads): the best of several runs in each of `ROUNDS`
interleaved rounds, noise only ever adds time, less one inference of an empty model (the runtime's
own cost of a run, stored as `run_us` and added once per inference).

Per class, time = fixed + a x F/P + b x B/W per group; a microbenchmark's time is the sum over its
groups (n groups of a class: n x fixed + a x sum F/P + b x sum B/W), so blocks that mix classes (an
inverted residual, a squeeze-excite) constrain every class they hold. All classes are fitted at once,
fixed, a, b >= 0, minimising the squared relative error (`fit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import numpy as np

from perfmodel.hardware.spec import EFFICIENCY_CLASSES, Efficiency, HardwareSpec

CHAIN = 4
"""Conv blocks per conv microbenchmark."""
ROUNDS = 3
"""Interleaved rounds over all microbenchmarks (best of each kept; `--quick`: one)."""


@dataclass(frozen=True)
class Term:
    """What the groups of one class in a microbenchmark add up to."""

    kernels: int  # groups, each paying the class's fixed cost
    compute_s: float  # sum of F / P
    memory_s: float  # sum of near-memory seconds (efficiency.near_memory_s)


@dataclass(frozen=True)
class Sample:
    name: str
    measured_s: float
    terms: Mapping[str, Term]  # per class (perfmodel.efficiency.layer_class) of its groups

    @property
    def cls(self) -> str:
        """The class holding most of its roofline time (for display)."""
        return max(self.terms, key=lambda c: self.terms[c].compute_s + self.terms[c].memory_s)

    def predicted(self, efficiency: Mapping[str, Efficiency]) -> float:
        """What the roofline predicts for its groups: the calibrated time of each class's groups, summed."""
        from perfmodel.efficiency import calibrated_time

        return sum(calibrated_time(efficiency[c], t.compute_s, t.memory_s, t.kernels) for c, t in self.terms.items())


class _Chain:
    """A microbenchmark's graph built one node at a time: x in, y out (the last node's output)."""

    def __init__(self, weight: Callable):
        self.weight, self.nodes, self.inits, self.n = weight, [], [], 0

    def op(self, op: str, ins: list[str], **attrs) -> str:
        from onnx import helper

        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def const(self, array_or_shape) -> str:
        """An initializer: random weights of a shape, or the given array."""
        from onnx import numpy_helper

        self.n += 1
        name = f"k{self.n}"
        if isinstance(array_or_shape, tuple):
            self.inits.append(self.weight(name, *array_or_shape))
        else:
            self.inits.append(numpy_helper.from_array(array_or_shape, name))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1,
             act: str | None = "Relu") -> str:
        """Conv (with bias) + inference BatchNorm + the activation (Relu, Clip as ReLU6, HardSigmoid...)."""
        y = self.op("Conv", [x, self.const((cout, cin // groups, k, k)), self.const((cout,))],
                    pads=[k // 2] * 4, strides=[stride] * 2, group=groups)
        y = self.op("BatchNormalization", [y] + [self.const((cout,)) for _ in range(3)]
                    + [self.const(np.ones(cout, np.float32))])
        if act == "Clip":
            low, high = self.const(np.asarray(0, np.float32)), self.const(np.asarray(6, np.float32))
            return self.op("Clip", [y, low, high])
        return self.op(act, [y]) if act else y

    def done(self, shape: tuple) -> tuple[list, tuple, list]:
        """(nodes, input shape, initializers), the last node's output renamed y."""
        self.nodes[-1].output[0] = "y"
        return self.nodes, shape, self.inits


def _models(quick: bool) -> Iterator[tuple[str, object]]:
    """(name, ModelProto) of every microbenchmark."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.05).astype(np.float32), name)

    def model(nodes, x_shape, inits, extra_inputs=()):
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))]
        inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in extra_inputs]
        graph = helper.make_graph(nodes, "bench", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m

    def conv(c, k_out, size, k, stride=1, groups=1, residual=False, depth=CHAIN):
        """`depth` conv + BN + ReLU blocks in a chain, c -> k_out (strided), then k_out -> c -> k_out ... at
        stride 1: a chain, as in a model, so the runtime's per-run costs (session step, the NCHWc
        reorders at the model's edges) are shared the way a model shares them."""
        ch, extra, x, channels = _Chain(weight), (), "x", (c, k_out)
        for i in range(depth):
            cin, cout = channels[i % 2], channels[(i + 1) % 2]
            g = groups if cin % groups == 0 and cout % groups == 0 else 1
            y = ch.conv(x, cin, cout, k, stride if i == 0 else 1, g, act=None)
            if residual and i == depth - 1 and cin == cout:
                out = (size + 2 * (k // 2) - k) // stride + 1
                y, extra = ch.op("Add", [y, "r"]), (("r", (1, cout, out, out)),)
            x = ch.op("Relu", [y])
        return model(*ch.done((1, c, size, size)), extra)

    convs = [(3, 64, 224, 7, 2), (64, 64, 56, 3, 1), (64, 256, 56, 1, 1), (256, 64, 56, 1, 1), (128, 128, 28, 3, 1),
             (256, 256, 14, 3, 1), (512, 512, 7, 3, 1), (512, 2048, 7, 1, 1), (1024, 256, 14, 1, 1),
             (64, 128, 56, 3, 2), (32, 32, 112, 5, 1), (96, 208, 14, 3, 1), (16, 48, 28, 5, 1), (192, 64, 28, 1, 1),
             (24, 144, 56, 1, 1), (320, 1280, 7, 1, 1), (48, 64, 64, 7, 1), (256, 512, 28, 1, 2),
             (16, 96, 112, 1, 1), (32, 16, 112, 1, 1), (96, 24, 56, 1, 1), (40, 240, 28, 1, 1), (112, 672, 14, 1, 1),
             (64, 16, 56, 1, 1), (16, 64, 56, 3, 1),
             (96, 24, 1, 1, 1), (576, 144, 1, 1, 1), (32, 32, 7, 3, 1), (16, 16, 14, 1, 1)]  # tiny: fixed costs
    if quick:
        convs = convs[::3]
    for c, k_out, size, k, stride in convs:
        yield f"conv {k}x{k}/{stride} {c}->{k_out} @{size}", conv(c, k_out, size, k, stride, residual=k == 1 and c == k_out)
    depthwise = [(32, 112, 3, 1), (96, 56, 3, 2), (144, 56, 3, 1), (192, 28, 3, 1), (384, 14, 3, 1), (576, 14, 3, 1),
                 (960, 7, 3, 1), (240, 28, 5, 1), (672, 14, 5, 2), (16, 112, 3, 1), (72, 28, 5, 1), (120, 28, 3, 1)]
    if quick:
        depthwise = depthwise[::3]
    for c, size, k, stride in depthwise:
        yield f"depthwise {k}x{k}/{stride} {c} @{size}", conv(c, c, size, k, stride, groups=c)
    yield "grouped 3x3 128 g32 @56", conv(128, 128, 56, 3, groups=32)
    for name, (nodes, shape, inits) in _blocks(quick, weight):
        yield name, model(nodes, shape, inits)
    gemms = [(1, 512, 1000), (1, 1024, 1000), (1, 2048, 1000), (1, 4096, 4096), (1, 9216, 4096), (8, 2048, 1000),
             (32, 1024, 1024), (197, 768, 768), (197, 768, 3072), (196, 3072, 768)]
    if quick:
        gemms = gemms[::3]
    for m, k, n in gemms:
        nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)]
        yield f"gemm {m}x{k}x{n}", model(nodes, (m, k), [weight("w", n, k), weight("b", n)])
    for seq in ((49, 197) if quick else (49, 64, 197)):
        nodes = [helper.make_node("MatMul", ["x", "kt"], ["s"]), helper.make_node("Softmax", ["s"], ["y"], axis=-1)]
        yield f"attention scores {seq}", model(nodes, (1, 12, seq, 64), [], (("kt", (1, 12, 64, seq)),))
    others = [("Relu", (1, 64, 112, 112)), ("Add", (1, 256, 56, 56)), ("MaxPool", (1, 64, 112, 112)),
              ("GlobalAveragePool", (1, 2048, 7, 7)), ("Sigmoid", (1, 96, 56, 56)), ("AveragePool", (1, 256, 28, 28)),
              ("LayerNormalization", (1, 197, 768)), ("Softmax", (1, 1000)),
              # small ones, where a kernel's fixed cost shows
              ("Relu", (1, 16, 14, 14)), ("Mul", (1, 96, 14, 14)), ("GlobalAveragePool", (1, 96, 14, 14)),
              ("HardSigmoid", (1, 96, 1, 1)), ("Add", (1, 40, 14, 14)), ("HardSwish", (1, 96, 14, 14))]
    if quick:
        others = others[::2]
    for op, shape in others:
        attrs, inits, extra, ins = {}, [], (), ["x"]
        if op == "Add":
            extra, ins = (("r", shape),), ["x", "r"]
        elif op == "Mul":  # a squeeze-excite scale: one factor per channel
            extra, ins = (("r", shape[:2] + (1, 1)),), ["x", "r"]

        elif op in ("MaxPool", "AveragePool"):
            attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
        elif op == "LayerNormalization":
            inits, ins = [weight("g", shape[-1]), weight("bb", shape[-1])], ["x", "g", "bb"]
            attrs = {"axis": -1}
        yield f"{op} {'x'.join(map(str, shape))}", model([helper.make_node(op, ins, ["y"], **attrs)], shape, inits, extra)


def _blocks(quick: bool, weight) -> Iterator[tuple[str, tuple[list, tuple, list]]]:
    """Chains of the blocks mobile and efficient networks are built of, each class of group in them
    (conv, depthwise, element-wise, pooling, data movement) at small sizes, where per-kernel costs
    show: (name, (nodes, input shape, initializers))."""
    def inverted_residual(c, size, expand=6):
        """MobileNetV2: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project, residual Add; 4 in a chain."""
        ch, x = _Chain(weight), "x"
        for _ in range(CHAIN):
            y = ch.conv(x, c, c * expand, act="Clip")
            y = ch.conv(y, c * expand, c * expand, k=3, groups=c * expand, act="Clip")
            y = ch.conv(y, c * expand, c, act=None)
            x = ch.op("Add", [y, x])
        return ch.done((1, c, size, size))

    def squeeze_excite(c, size):
        """Global pool, 1x1 squeeze + ReLU, 1x1 excite + HardSigmoid, channel scale; 4 in a chain."""
        ch, x = _Chain(weight), "x"
        for _ in range(CHAIN):
            s = ch.op("GlobalAveragePool", [x])
            s = ch.conv(s, c, max(c // 4, 8))
            s = ch.conv(s, max(c // 4, 8), c, act="HardSigmoid")
            x = ch.op("Mul", [x, s])
        return ch.done((1, c, size, size))

    def channel_shuffle(c, size):
        """ShuffleNetV2: 1x1 conv + ReLU, then the shuffle (Reshape, 5-D Transpose, Reshape); 4 in a chain."""
        ch, x = _Chain(weight), "x"
        for _ in range(CHAIN):
            y = ch.conv(x, c, c)
            y = ch.op("Reshape", [y, ch.const(np.array([1, 2, c // 2, size, size], np.int64))])
            y = ch.op("Transpose", [y], perm=[0, 2, 1, 3, 4])
            x = ch.op("Reshape", [y, ch.const(np.array([1, c, size, size], np.int64))])
        return ch.done((1, c, size, size))

    cases = [("inverted residual", inverted_residual, [(16, 56), (24, 28), (32, 14), (64, 7), (96, 14)]),
             ("squeeze-excite", squeeze_excite, [(16, 56), (40, 28), (96, 14), (576, 7)]),
             ("channel shuffle", channel_shuffle, [(116, 28), (232, 14), (464, 7)])]
    for label, build, sizes in cases:
        for c, size in (sizes[::2] if quick else sizes):
            yield f"{label} {c} @{size}", build(c, size)


def measure(hw: HardwareSpec, quick: bool = False, runs: int | None = None,
            progress: Callable[[str], None] = lambda m: None) -> list[Sample]:
    """Run every microbenchmark in onnxruntime, in `ROUNDS` interleaved rounds (best of each, so a
    slow spell of a shared machine costs one round, not the microbenchmarks it overlapped); its
    roofline terms from perfmodel's fused record."""
    import onnxruntime as ort

    from perfmodel.efficiency import layer_class, near_memory_s
    from perfmodel.runtime import best_time, random_feeds
    from perfmodel.fusion import fuse
    from perfmodel.roofline import predict
    from perfmodel.walk import analyze_model

    runs = runs or (5 if quick else 15)
    benches = []
    for name, m in _models(quick):
        groups = fuse(analyze_model(m))
        terms: dict[str, Term] = {}
        for lp in predict(groups, hw, "fp32").layers:
            if lp.known and not lp.layer.is_view and (lp.layer.flops or lp.layer.bytes_total):
                c, t = layer_class(lp.layer), terms.get(layer_class(lp.layer), Term(0, 0.0, 0.0))
                terms[c] = Term(t.kernels + 1, t.compute_s + lp.compute_s,
                                t.memory_s + near_memory_s(lp.layer, hw, groups.weight_bytes, lp.compute_s))
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        benches.append((name, terms, session, random_feeds(session, seed=1)))
    best = [float("inf")] * len(benches)
    run_s = float("inf")
    rounds = 1 if quick else ROUNDS
    for r in range(rounds):
        run_s = min(run_s, run_overhead(runs))
        for i, (name, _, session, feeds) in enumerate(benches):
            best[i] = min(best[i], best_time(session, feeds, runs))
        progress(f"round {r + 1}/{rounds}: {len(benches)} microbenchmarks measured")
    progress(f"one inference of an empty model: {run_s * 1e6:.1f} us (taken out of every microbenchmark)")
    samples = [Sample(name, max(t - run_s, t * 0.05), terms) for (name, terms, _, _), t in zip(benches, best)]
    return samples, run_s


def run_overhead(runs: int) -> float:
    """Best time of one inference of a one-element Relu: the runtime's own cost of a run."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from perfmodel.runtime import best_time

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "empty",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    session = ort.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                                   .SerializeToString(), providers=["CPUExecutionProvider"])
    return best_time(session, {"x": np.zeros(1, np.float32)}, max(runs, 20), warmup=5)


def fit(samples: list[Sample]) -> dict[str, Efficiency]:
    """The non-negative (fixed, a, b) of every class at once, of the smallest squared relative error
    over all microbenchmarks (a microbenchmark mixing classes constrains each of them); scipy's NNLS
    on the rows (kernels, F/P, B/W per class) / t against 1, columns scaled to unit norm. A class no
    microbenchmark has borrows 'other'."""
    from scipy.optimize import nnls

    classes = [c for c in EFFICIENCY_CLASSES if any(c in s.terms for s in samples)]
    rows = []
    for s in samples:
        row = []
        for c in classes:
            t = s.terms.get(c, Term(0, 0.0, 0.0))
            row += [t.kernels, t.compute_s, t.memory_s]
        rows.append(np.array(row) / s.measured_s)
    a = np.array(rows)
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    coef, _ = nnls(a / norms, np.ones(len(samples)))
    coef = coef / norms
    out: dict[str, Efficiency] = {}
    for i, c in enumerate(classes):
        f, comp, mem = coef[3 * i: 3 * i + 3]
        out[c] = Efficiency(fixed_us=round(float(f) * 1e6, 3), compute_scale=float(f"{comp:.4g}"),
                            memory_scale=float(f"{mem:.4g}"))
    for cls in EFFICIENCY_CLASSES:
        out.setdefault(cls, out.get("other") or Efficiency(0.0, 1.0, 1.0))
    return {cls: out[cls] for cls in EFFICIENCY_CLASSES}
