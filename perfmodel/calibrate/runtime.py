"""Calibration in a runtime (onnxruntime): microbenchmarks of one fused group each, chosen independently
of any model, and a fit per layer class of the runtime's achieved efficiency (perfmodel.efficiency).

The sweep: dense convs 1x1, 3x3, 5x5, 7x7 (strided and not) over channel counts and sizes, as chains
of four conv + BatchNorm + ReLU blocks (some ending in a residual Add), grouped and depthwise convs the
same way, so per-run costs are shared as a model shares them; GEMMs (FC at batch 1 and batched) and
MatMuls (attention-style); element-wise ops, pooling, softmax and normalization. Each is built with
onnx.helper, analyzed and fused by perfmodel (so its roofline terms are the ones a model's groups
get; the memory term at the bandwidth of the cache level its bytes fit) and run in onnxruntime with
its default session options (all graph optimizations, default threads): the best of several runs,
noise only ever adds time, less one inference of an empty model (the runtime's own cost of a run,
stored as `run_us` and added once per inference).

Per class, time = fixed + a x F/P + b x B/W with fixed, a, b >= 0, minimising the squared relative
error (weighted least squares of the rows (1, F/P, B/W) / t against 1, the best non-negative subset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from perfmodel.hardware.spec import EFFICIENCY_CLASSES, Efficiency, HardwareSpec

CHAIN = 4
"""Conv blocks per conv microbenchmark."""


@dataclass(frozen=True)
class Sample:
    name: str
    cls: str
    compute_s: float  # F / P of the group
    memory_s: float  # B / W, W the bandwidth of the cache level the bytes fit (efficiency.working_set_bandwidth)
    measured_s: float


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
        nodes, inits, extra, x, channels = [], [], (), "x", (c, k_out)
        for i in range(depth):
            cin, cout = channels[i % 2], channels[(i + 1) % 2]
            s = stride if i == 0 else 1
            g = groups if cin % groups == 0 and cout % groups == 0 else 1
            inits += [weight(f"w{i}", cout, cin // g, k, k), weight(f"b{i}", cout)]
            inits += [weight(f"{n}{i}", cout) for n in ("s", "sh", "m")]
            inits.append(numpy_helper.from_array(np.ones(cout, np.float32), f"v{i}"))
            nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[k // 2] * 4, strides=[s] * 2,
                                       group=g),
                      helper.make_node("BatchNormalization", [f"c{i}", f"s{i}", f"sh{i}", f"m{i}", f"v{i}"], [f"n{i}"])]
            y = f"n{i}"
            if residual and i == depth - 1 and cin == cout:
                out = (size + 2 * (k // 2) - k) // stride + 1
                nodes.append(helper.make_node("Add", [y, "r"], [f"a{i}"]))
                extra, y = (("r", (1, cout, out, out)),), f"a{i}"
            nodes.append(helper.make_node("Relu", [y], ["y" if i == depth - 1 else f"r{i}"]))
            x = f"r{i}"
        return model(nodes, (1, c, size, size), inits, extra)

    convs = [(3, 64, 224, 7, 2), (64, 64, 56, 3, 1), (64, 256, 56, 1, 1), (256, 64, 56, 1, 1), (128, 128, 28, 3, 1),
             (256, 256, 14, 3, 1), (512, 512, 7, 3, 1), (512, 2048, 7, 1, 1), (1024, 256, 14, 1, 1),
             (64, 128, 56, 3, 2), (32, 32, 112, 5, 1), (96, 208, 14, 3, 1), (16, 48, 28, 5, 1), (192, 64, 28, 1, 1),
             (24, 144, 56, 1, 1), (320, 1280, 7, 1, 1), (48, 64, 64, 7, 1), (256, 512, 28, 1, 2),
             (16, 96, 112, 1, 1), (32, 16, 112, 1, 1), (96, 24, 56, 1, 1), (40, 240, 28, 1, 1), (112, 672, 14, 1, 1),
             (64, 16, 56, 1, 1), (16, 64, 56, 3, 1)]
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
              ("LayerNormalization", (1, 197, 768)), ("Softmax", (1, 1000))]
    if quick:
        others = others[::2]
    for op, shape in others:
        attrs, inits, extra, ins = {}, [], (), ["x"]
        if op == "Add":
            extra, ins = (("r", shape),), ["x", "r"]
        elif op in ("MaxPool", "AveragePool"):
            attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
        elif op == "LayerNormalization":
            inits, ins = [weight("g", shape[-1]), weight("bb", shape[-1])], ["x", "g", "bb"]
            attrs = {"axis": -1}
        yield f"{op} {'x'.join(map(str, shape))}", model([helper.make_node(op, ins, ["y"], **attrs)], shape, inits, extra)


def measure(hw: HardwareSpec, quick: bool = False, runs: int | None = None,
            progress: Callable[[str], None] = lambda m: None) -> list[Sample]:
    """Run every microbenchmark in onnxruntime; its roofline terms from perfmodel's fused record."""
    import onnxruntime as ort

    from perfmodel.efficiency import layer_class, working_set_bandwidth
    from perfmodel.runtime import best_time, random_feeds
    from perfmodel.fusion import fuse
    from perfmodel.roofline import predict
    from perfmodel.walk import analyze_model

    runs = runs or (5 if quick else 15)
    samples = []
    benches = list(_models(quick))
    run_s = run_overhead(runs)
    progress(f"one inference of an empty model: {run_s * 1e6:.1f} us (taken out of every microbenchmark)")
    for i, (name, m) in enumerate(benches, 1):
        groups = fuse(analyze_model(m))
        prediction = predict(groups, hw, "fp32")
        known = [lp for lp in prediction.layers if lp.known and not lp.layer.is_view]
        anchor = max(known, key=lambda lp: lp.bound_s).layer
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        best = best_time(session, random_feeds(session, seed=1), runs)
        near = sum(lp.layer.bytes_total / working_set_bandwidth(lp.layer.bytes_total, hw) for lp in known)
        samples.append(Sample(name, layer_class(anchor), sum(lp.compute_s for lp in known), near,
                              max(best - run_s, best * 0.05)))
        progress(f"{i}/{len(benches)} {name}: {best * 1e6:.1f} us")
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
    """Per class, the non-negative (fixed, a, b) of the smallest squared relative error (module docstring).
    A class without samples borrows 'other'."""
    out: dict[str, Efficiency] = {}
    for cls in EFFICIENCY_CLASSES:
        mine = [s for s in samples if s.cls == cls]
        if not mine:
            continue
        t = np.array([s.measured_s for s in mine])
        columns = np.column_stack([np.ones(len(mine)), [s.compute_s for s in mine], [s.memory_s for s in mine]]) / t[:, None]
        best = None
        for mask in ((1, 1, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 1)):
            keep = [j for j in range(3) if mask[j]]
            coef, *_ = np.linalg.lstsq(columns[:, keep], np.ones(len(mine)), rcond=None)
            if (coef < 0).any():
                continue
            full = np.zeros(3)
            full[keep] = coef
            error = float(np.sum((columns @ full - 1) ** 2))
            if best is None or error < best[0]:
                best = (error, full)
        f, a, b = best[1]
        out[cls] = Efficiency(fixed_us=round(float(f) * 1e6, 3), compute_scale=float(f"{a:.4g}"),
                              memory_scale=float(f"{b:.4g}"))
    for cls in EFFICIENCY_CLASSES:
        out.setdefault(cls, out.get("other") or Efficiency(0.0, 1.0, 1.0))
    return {cls: out[cls] for cls in EFFICIENCY_CLASSES}
