"""One entry point from a perfmodel layer record to a runnable kernel: `make_runner(layer)`.

`layer` is a `perfmodel.record.LayerCost` from the graph walk: `op_type`, `name`, `input_shapes`
(weights and bias included), `output_shapes`, the normalized window `geometry` (kernel, strides,
pads, dilations, groups, ceil_mode) and the MAC ops' `gemm` dims (which slot is the bias). Only
execution-only attributes (Gemm's transA/transB/alpha/beta, LRN's and BatchNorm's constants, a
pool's count_include_pad) are read from `attributes`, where the walk filled in the ONNX schema's
defaults. The runner allocates random inputs
of those shapes once (weights are prepacked once too, as an inference runtime would), and

    runner = make_runner(layer)
    runner.warmup()        # JIT-compiles (or loads from numba's cache) and runs once
    y = runner()           # runs the kernel on the stored inputs into the stored output

Supported op types: Conv (2-D), Gemm, MatMul (2-D), MaxPool, AveragePool (2-D), GlobalAveragePool,
Relu, BatchNormalization, LRN, Add. Anything else raises NotImplementedError.

Convolution strategy: `strategy="auto"` uses `kernels.conv.heuristic_strategy` (a cheap rule tuned by
measuring both strategies over the AlexNet/VGG/ResNet shapes: the lowered GEMM wins unless a group
has < 4 output channels or K < 32); `strategy="tuned"` times both strategies once in `warmup()` and
caches the winner per shape (`Conv2d.tuned`); "gemm"/"direct" force one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from kernels import conv, elementwise, gemm, norm, pool

SUPPORTED_OPS = ("Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu",
                 "BatchNormalization", "LRN", "Add")


@dataclass
class Runner:
    """A kernel bound to its inputs and output buffer. Call it to run once; `warmup()` compiles."""

    name: str
    op_type: str
    kernel: str
    inputs: tuple[np.ndarray, ...]
    out: np.ndarray
    run: Callable[[], np.ndarray]
    flops: int = 0
    bytes_moved: float = 0.0
    prepare: Callable[[], Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> np.ndarray:
        return self.run()

    def warmup(self, repeats: int = 1) -> "Runner":
        """Compile (first call) and run `repeats` times so timings exclude JIT and first-touch costs."""
        if self.prepare is not None:
            self.prepare()
        for _ in range(max(1, repeats)):
            self.run()
        return self


def _ints(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _rand(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    return rng.standard_normal(tuple(int(s) for s in shape), dtype=np.float32)


def _spatial(layer: Any, shape: Sequence[int], what: str) -> None:
    if len(shape) != 4:
        raise NotImplementedError(f"{layer.op_type} {layer.name!r}: only 2-D (NCHW) {what} is supported, got input {tuple(shape)}")


def _bytes(layer: Any) -> float:
    try:
        return float(layer.bytes_read + layer.bytes_written)
    except AttributeError:
        return 0.0


def _conv_runner(layer: Any, rng: np.random.Generator, strategy: str) -> Runner:
    shapes = layer.input_shapes
    x_shape, w_shape = shapes[0], shapes[1]
    _spatial(layer, x_shape, "convolution")
    geo, bias = layer.geometry, layer.gemm.bias_input
    x = _rand(rng, x_shape)
    w = _rand(rng, w_shape) * np.float32(1.0 / np.sqrt(np.prod(w_shape[1:])))
    b = _rand(rng, shapes[bias]) if bias is not None else None
    plan = conv.Conv2d(x.shape, w, b, _ints(geo.strides), _ints(geo.pads), _ints(geo.dilations), geo.groups,
                       "auto" if strategy == "tuned" else strategy)
    out = np.empty(plan.geo.out_shape, np.float32)
    runner = Runner(layer.name, "Conv", f"conv2d[{plan.strategy}]", (x, w) + ((b,) if b is not None else ()),
                    out, lambda: plan(x, out), info={"plan": plan})
    if strategy == "tuned":
        def prepare() -> None:
            plan.autotune(x)
            runner.kernel = f"conv2d[{plan.strategy}]"
        runner.prepare = prepare
    return runner


def _gemm_runner(layer: Any, rng: np.random.Generator) -> Runner:
    shapes = layer.input_shapes
    if layer.op_type == "MatMul":
        if len(shapes[0]) != 2 or len(shapes[1]) != 2:
            raise NotImplementedError(f"MatMul {layer.name!r}: only 2-D operands are supported, got {shapes}")
        trans_a, trans_b, alpha, beta = 0, 0, 1.0, 1.0
    else:
        a = layer.attributes
        trans_a, trans_b, alpha, beta = int(a["transA"]), int(a["transB"]), float(a["alpha"]), float(a["beta"])
    bias = layer.gemm.bias_input
    a = _rand(rng, shapes[0])
    b = _rand(rng, shapes[1]) * np.float32(1.0 / np.sqrt(layer.gemm.k))
    c = _rand(rng, shapes[bias]) if bias is not None else None
    # Operand prep done once, outside the timed call: the weight in (N_out, K), the activation in (M, K).
    x = np.ascontiguousarray(a.T) if trans_a else a
    w = b if trans_b else np.ascontiguousarray(b.T)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    kernel = "gemv" if x.shape[0] == 1 else "gemm"
    inputs = (a, b) + ((c,) if c is not None else ())
    return Runner(layer.name, layer.op_type, kernel, inputs, out,
                  lambda: gemm.fully_connected(x, w, c, out, alpha, beta))


def _pool_runner(layer: Any, rng: np.random.Generator) -> Runner:
    x_shape = layer.input_shapes[0]
    x = _rand(rng, x_shape)
    if layer.op_type == "GlobalAveragePool":
        out = np.empty(tuple(x_shape[:2]) + (1,) * (len(x_shape) - 2), np.float32)
        return Runner(layer.name, layer.op_type, "global_avg_pool", (x,), out,
                      lambda: pool.global_avg_pool(x, out))
    _spatial(layer, x_shape, "pooling")
    geo = layer.geometry
    kernel_shape, strides, pads, dilations = _ints(geo.kernel), _ints(geo.strides), _ints(geo.pads), _ints(geo.dilations)
    ceil_mode = geo.ceil_mode
    out = np.empty(pool.pool_output_shape(x.shape, kernel_shape, strides, pads, dilations, ceil_mode), np.float32)
    if layer.op_type == "MaxPool":
        return Runner(layer.name, "MaxPool", "max_pool2d", (x,), out,
                      lambda: pool.max_pool2d(x, kernel_shape, strides, pads, dilations, ceil_mode, out))
    include = bool(layer.attributes["count_include_pad"])
    return Runner(layer.name, "AveragePool", "avg_pool2d", (x,), out,
                  lambda: pool.avg_pool2d(x, kernel_shape, strides, pads, dilations, ceil_mode, include, out))


def _other_runner(layer: Any, rng: np.random.Generator) -> Runner:
    op = layer.op_type
    shapes = layer.input_shapes
    x = _rand(rng, shapes[0])
    out = np.empty_like(x)
    if op == "Relu":
        return Runner(layer.name, op, "relu", (x,), out, lambda: elementwise.relu(x, out))
    if op == "Add":
        y = _rand(rng, shapes[1])
        out = np.empty(np.broadcast_shapes(x.shape, y.shape), np.float32)
        return Runner(layer.name, op, "add", (x, y), out, lambda: elementwise.add(x, y, out))
    if op == "LRN":
        size = int(layer.attributes["size"])
        alpha, beta, bias = (float(layer.attributes[k]) for k in ("alpha", "beta", "bias"))
        return Runner(layer.name, op, "lrn", (x,), out, lambda: norm.lrn(x, size, alpha, beta, bias, out))
    if op == "BatchNormalization":
        c = shapes[0][1]
        scale, bias, mean = _rand(rng, (c,)), _rand(rng, (c,)), _rand(rng, (c,))
        var = rng.uniform(0.5, 1.5, c).astype(np.float32)
        eps = float(layer.attributes["epsilon"])
        return Runner(layer.name, op, "batch_norm", (x, scale, bias, mean, var), out,
                      lambda: norm.batch_norm(x, scale, bias, mean, var, eps, out))
    raise AssertionError(op)


def make_runner(layer: Any, seed: int = 0, strategy: str = "auto") -> Runner:
    """Map a layer record to its kernel with random inputs of the record's shapes.

    strategy applies to Conv: "auto" (heuristic), "tuned" (timed once per shape in warmup),
    "gemm" or "direct". Raises NotImplementedError for op types without a kernel.
    """
    op = getattr(layer, "op_type", None)
    if op not in SUPPORTED_OPS:
        raise NotImplementedError(
            f"no kernel for op type {op!r} (layer {getattr(layer, 'name', '?')!r}); "
            f"supported: {', '.join(SUPPORTED_OPS)}")
    rng = np.random.default_rng(seed)
    if op == "Conv":
        runner = _conv_runner(layer, rng, strategy)
    elif op in ("Gemm", "MatMul"):
        runner = _gemm_runner(layer, rng)
    elif op in ("MaxPool", "AveragePool", "GlobalAveragePool"):
        runner = _pool_runner(layer, rng)
    else:
        runner = _other_runner(layer, rng)
    runner.flops = int(getattr(layer, "flops", 0) or 0)
    runner.bytes_moved = _bytes(layer)
    return runner
