"""`python -m kernels.compare [--quick]`: the numba kernels next to onnxruntime and numpy's BLAS.

One process, same shapes, interleaved rounds (ours, theirs, ours, ...), best round kept (load from
other processes only ever slows a run down). Three headline figures:

  conv   geometric mean of our GFLOP/s over the distinct conv shapes of alexnet, vgg16 and resnet50
         at batch 1, and its ratio to onnxruntime's single-node Conv (target >= 0.5x);
  FC b=1 achieved bandwidth of the GEMV (weight bytes / time, caches flushed before each run) and
         its ratio to the streaming bandwidth measured in the same run by numba copy, triad and
         read-only (sum) kernels over arrays far larger than the last-level cache, the best of the
         three as the reference (STREAM counting: copy 2, triad 3, read 1 x array bytes; a GEMV
         only reads, so read-only is its natural ceiling) (target >= 70%);
  GEMM   batch-64 FC GFLOP/s and ratio to numpy's BLAS (x @ w.T + b) (target >= 0.5x).

Threads: ours use numba's threads (`numba.set_num_threads`), onnxruntime `intra_op_num_threads`,
numpy's OpenBLAS is set through threadpoolctl when installed, else through OpenBLAS's own
`*_set_num_threads` found in the loaded library (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set before
start-up do the same). Layer shapes come from perfmodel (`models_onnx.build` + `perfmodel.walk`).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numba
import numpy as np

from kernels import stream

MODELS = ("alexnet", "vgg16", "resnet50")
LLC_FLUSH_BYTES = 96 << 20


# ----------------------------------------------------------------------------- layer shapes
def distinct_layers(models: Sequence[str], batch: int, op_types: Sequence[str]) -> list:
    """Distinct layers (by op type, input shapes and attributes) of zoo models, via perfmodel's walk."""
    from models_onnx import build
    from perfmodel.walk import analyze_model

    seen: dict[tuple, object] = {}
    for model in models:
        for layer in analyze_model(build(model, weights="none", batch=batch)).layers:
            if layer.op_type in op_types:
                key = (layer.op_type, tuple(map(tuple, layer.input_shapes)),
                       tuple(sorted((k, repr(v)) for k, v in dict(layer.attributes).items())))
                seen.setdefault(key, (model, layer))
    return list(seen.values())


# ----------------------------------------------------------------------------- timing
SETTLE_SECONDS = 0.1
"""Pause after each block of runs: onnxruntime's idle pool threads keep spinning for tens of ms
after a run (measured: our 2-thread conv right after an onnxruntime block ran 2.3x slower on every
other run until a pause of ~50 ms), which would be charged to whichever fn runs next."""


def best_times(fns: Sequence[Callable[[], object]], rounds: int, before: Callable[[], object] | None = None,
               max_seconds: float = 30.0, blocks: int = 3) -> list[float]:
    """Best wall time of each fn (each already warm) over about `rounds` timed runs.

    The runs go in blocks (a few runs of fn 0, of fn 1, ..., `blocks` times over) separated by
    `SETTLE_SECONDS` pauses, rather than strictly alternating: runtimes whose idle threads spin
    after a call (onnxruntime's pool, OpenMP) would otherwise steal the cores from the next fn.
    Each block's first run (thread wake-up) is not counted. Several blocks spread each fn over
    time, so a burst of load from other processes does not hit one fn's whole sample.
    """
    best = [math.inf] * len(fns)
    start = time.perf_counter()
    per_block = max(2, -(-rounds // blocks))
    for _ in range(blocks):
        for i, fn in enumerate(fns):
            for r in range(per_block + 1):
                if before is not None:
                    before()
                t0 = time.perf_counter()
                fn()
                if r:
                    best[i] = min(best[i], time.perf_counter() - t0)
            if len(fns) > 1:
                time.sleep(SETTLE_SECONDS)
        if time.perf_counter() - start > max_seconds:
            break
    return best


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


# ----------------------------------------------------------------------------- thread control
def _openblas_setter() -> Callable[[int], None] | None:
    """OpenBLAS's set_num_threads from the library numpy loaded (None if not found)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    except OSError:
        return None
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                return fn
    return None


@contextmanager
def blas_threads(n: int) -> Iterator[str]:
    """Limit numpy's BLAS to n threads inside the block; yields how ("threadpoolctl", "openblas", "none")."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield "threadpoolctl"
        return
    setter = _openblas_setter()
    if setter is None:
        yield "none (set OPENBLAS_NUM_THREADS before start-up)"
        return
    setter(n)
    try:
        yield "openblas"
    finally:
        setter(numba.config.NUMBA_NUM_THREADS)


@contextmanager
def numba_threads(n: int) -> Iterator[None]:
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def stream_bandwidth(nbytes: int, rounds: int) -> dict[str, float]:
    """GB/s of copy (2 x bytes), triad (3 x bytes) and read (1 x bytes) over float32 arrays of nbytes."""
    n = nbytes // 4
    a, b, c = (np.full(n, v, np.float32) for v in (1.0, 2.0, 0.5))
    stream.copy(a, b)
    stream.triad(a, b, c, np.float32(3.0))
    stream.read(a)
    t_copy, t_triad, t_read = best_times([lambda: stream.copy(a, b),
                                          lambda: stream.triad(a, b, c, np.float32(3.0)),
                                          lambda: stream.read(a)], rounds)
    return {"copy": 2 * a.nbytes / t_copy / 1e9, "triad": 3 * a.nbytes / t_triad / 1e9,
            "read": a.nbytes / t_read / 1e9}


class CacheFlusher:
    """Writes a buffer larger than the last-level cache, so the next run reads its operands from DRAM."""

    def __init__(self, nbytes: int = LLC_FLUSH_BYTES) -> None:
        self.buf = np.zeros(nbytes // 4, np.float32)

    def __call__(self) -> None:
        self.buf += np.float32(1.0)


# ----------------------------------------------------------------------------- onnxruntime
def ort_session(op_type: str, x: np.ndarray, initializers: dict[str, np.ndarray], threads: int, **attrs):
    """A one-node onnxruntime session with weights as initializers; returns run() on input x."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node(op_type, ["x", *initializers], ["y"], **attrs)
    graph = helper.make_graph([node], "one_node", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"x": x}
    return lambda: session.run(None, feed)


def have_ort() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- sections
def compare_conv(layers: list, threads: Sequence[int], rounds: int) -> tuple[list[dict], dict]:
    """Our conv vs onnxruntime's per shape and thread count; returns rows and geomeans."""
    from kernels.dispatch import make_runner

    rows, ours_all, ort_all = [], {t: [] for t in threads}, {t: [] for t in threads}
    use_ort = have_ort()
    for model, layer in layers:
        runner = make_runner(layer)
        x, w = runner.inputs[0], runner.inputs[1]
        b = runner.inputs[2] if len(runner.inputs) > 2 else np.zeros(w.shape[0], np.float32)
        geo = layer.geometry
        row = {"layer": f"{model}:{layer.name}", "shape": "x".join(map(str, x.shape[1:])) + f" k{w.shape[2]}"
               f" s{geo.strides[0]} M{w.shape[0]}", "kernel": runner.kernel}
        for t in threads:
            with numba_threads(t):
                runner.warmup()
                fns = [runner]
                if use_ort:
                    sess = ort_session("Conv", x, {"w": w, "b": b}, t, strides=list(geo.strides),
                                       pads=list(geo.pads), dilations=list(geo.dilations), group=geo.groups)
                    sess()
                    fns.append(sess)
                times = best_times(fns, rounds)
            ours = layer.flops / times[0] / 1e9
            ours_all[t].append(ours)
            row[f"ours {t}t"] = ours
            if use_ort:
                theirs = layer.flops / times[1] / 1e9
                ort_all[t].append(theirs)
                row[f"ort {t}t"] = theirs
                row[f"ratio {t}t"] = ours / theirs
        rows.append(row)
    summary = {t: (geomean(ours_all[t]), geomean(ort_all[t]) if use_ort else float("nan")) for t in threads}
    return rows, summary


def compare_fc1(layers: list, threads: Sequence[int], rounds: int, flusher: CacheFlusher,
                stream_bytes: int) -> tuple[list[dict], dict]:
    """Batch-1 FC (GEMV) bandwidth per thread count, caches flushed before every run, next to the
    streaming bandwidth measured at the same thread count (and onnxruntime's Gemm)."""
    from kernels.dispatch import make_runner

    rows, summary = [], {}
    use_ort = have_ort()
    runners = [(model, layer, make_runner(layer)) for model, layer in layers]
    for t in threads:
        total_bytes = total_time = 0.0
        with numba_threads(t):
            bw = stream_bandwidth(stream_bytes, rounds)
            for model, layer, runner in runners:
                x, w = runner.inputs[0], runner.inputs[1]
                b = runner.inputs[2] if len(runner.inputs) > 2 else np.zeros(w.shape[0], np.float32)
                runner.warmup()
                fns = [runner]
                if use_ort:
                    sess = ort_session("Gemm", x, {"w": w, "b": b}, t, transB=1)
                    sess()
                    fns.append(sess)
                times = best_times(fns, rounds, before=flusher)
                row = {"threads": t, "layer": f"{model}:{layer.name}", "K x N": f"{w.shape[1]}x{w.shape[0]}",
                       "weights MB": w.nbytes / 1e6, "ours ms": times[0] * 1e3, "ours GB/s": w.nbytes / times[0] / 1e9}
                if use_ort:
                    row["ort GB/s"] = w.nbytes / times[1] / 1e9
                rows.append(row)
                total_bytes += w.nbytes
                total_time += times[0]
        summary[t] = (total_bytes / total_time / 1e9, bw)
    return rows, summary


def compare_gemm(layers: list, batch: int, threads: Sequence[int], rounds: int) -> tuple[list[dict], dict]:
    """Batch-`batch` FC as GEMM: ours vs numpy (x @ w.T + b) per thread count."""
    from kernels import gemm

    rows, ours_all, np_all, how = [], {t: [] for t in threads}, {t: [] for t in threads}, ""
    rng = np.random.default_rng(0)
    for model, layer in layers:
        n_out, k = layer.gemm.n, layer.gemm.k
        x = rng.standard_normal((batch, k), dtype=np.float32)
        w = rng.standard_normal((n_out, k), dtype=np.float32)
        b = rng.standard_normal(n_out, dtype=np.float32)
        out = np.empty((batch, n_out), np.float32)
        flops = 2 * batch * k * n_out
        row = {"layer": f"{model}:{layer.name}", "M x K x N": f"{batch}x{k}x{n_out}"}
        for t in threads:
            with numba_threads(t), blas_threads(t) as how:
                ours = lambda: gemm.fully_connected(x, w, b, out)  # noqa: E731
                theirs = lambda: np.add(x @ w.T, b)  # noqa: E731
                ours()
                theirs()
                times = best_times([ours, theirs], rounds)
            row[f"ours {t}t"] = flops / times[0] / 1e9
            row[f"numpy {t}t"] = flops / times[1] / 1e9
            row[f"ratio {t}t"] = times[1] / times[0]
            ours_all[t].append(row[f"ours {t}t"])
            np_all[t].append(row[f"numpy {t}t"])
        rows.append(row)
    return rows, {t: (geomean(ours_all[t]), geomean(np_all[t]), how) for t in threads}


# ----------------------------------------------------------------------------- report
def _table(rows: list[dict]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers="keys", floatfmt=".2f")


def quick_conv_subset(layers: list) -> list:
    """A few representative shapes: per model the first conv, a 3x3 and a 1x1 from the middle."""
    picked, per_model = [], {}
    for model, layer in layers:
        per_model.setdefault(model, []).append((model, layer))
    for items in per_model.values():
        picked.append(items[0])
        mid = items[len(items) // 2:]
        for kh in (3, 1):
            match = [it for it in mid if it[1].geometry.kernel[0] == kh]
            if match and match[0] not in picked:
                picked.append(match[0])
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels.compare", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few shapes, fewer rounds (about a minute)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo models (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per measurement")
    parser.add_argument("--gemm-batch", type=int, default=64, help="batch of the GEMM comparison (default 64)")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rounds = args.rounds or (6 if args.quick else 12)
    nthreads = numba.config.NUMBA_NUM_THREADS
    threads = sorted({1, nthreads})

    print(f"kernels.compare: numba {numba.__version__} ({nthreads} threads), numpy {np.__version__}, onnxruntime {'yes' if have_ort() else 'not installed'}; "
          f"best of {rounds} interleaved rounds", flush=True)

    conv_layers = [it for it in distinct_layers(models, 1, ("Conv",))]
    fc_layers = distinct_layers(models, 1, ("Gemm",))
    if args.quick:
        conv_layers = quick_conv_subset(conv_layers)
        fc_layers = sorted(fc_layers, key=lambda it: it[1].macs)[-2:]

    print(f"\n== conv, batch 1: {len(conv_layers)} distinct shapes of {', '.join(models)} (GFLOP/s)", flush=True)
    rows, conv_summary = compare_conv(conv_layers, threads, rounds)
    print(_table(rows), flush=True)

    print("\n== FC batch 1 (GEMV): weight bytes / time, caches flushed before each run", flush=True)
    stream_bytes = (128 if args.quick else 256) << 20
    fc_rows, fc_summary = compare_fc1(fc_layers, threads, rounds, CacheFlusher(), stream_bytes)
    print(_table(fc_rows), flush=True)
    print(_table([{"threads": t, "GEMV GB/s (all layers)": g, **{f"stream {k} GB/s": v for k, v in bw.items()}}
                  for t, (g, bw) in fc_summary.items()]), flush=True)

    print(f"\n== FC as GEMM, batch {args.gemm_batch} (GFLOP/s)", flush=True)
    gemm_rows, gemm_summary = compare_gemm(fc_layers, args.gemm_batch, threads, rounds)
    print(_table(gemm_rows), flush=True)

    print("\n== summary")
    summary = []
    for t in threads:
        ours, ort = conv_summary[t]
        summary.append({"figure": f"conv geomean GFLOP/s, {t} thread(s)", "ours": ours, "reference": ort,
                        "ratio": ours / ort, "target": ">= 0.50x vs onnxruntime"})
    for t in threads:
        fc_bw, bw = fc_summary[t]
        stream = max(bw.values())
        summary.append({"figure": f"FC b=1 GB/s (weights/time), {t} thread(s)", "ours": fc_bw, "reference": stream,
                        "ratio": fc_bw / stream, "target": ">= 0.70x of stream max(copy, triad, read)"})
    for t in threads:
        ours, theirs, how = gemm_summary[t]
        summary.append({"figure": f"GEMM b={args.gemm_batch} geomean GFLOP/s, {t} thread(s)", "ours": ours,
                        "reference": theirs, "ratio": ours / theirs, "target": f">= 0.50x vs numpy BLAS ({how})"})
    print(_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
