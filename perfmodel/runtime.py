"""A model measured in onnxruntime: per-kernel times from its profiler, joined to perfmodel's groups.

onnxruntime runs the model as it deploys it (all graph optimizations, default threads): BatchNorm
folded, activations and residual adds fused into convs, NCHWc layout on x86. Its profiler times every
kernel; a fused kernel keeps the name of one of the nodes it absorbed (`layer1.0.bn2_nchwc` for
conv2 + bn2 + add + relu) or of that node's output tensor, so a kernel joins the perfmodel group
(perfmodel.fusion) holding the layer of that name. A kernel onnxruntime added itself (`ReorderOutput`
of the NCHWc layout) joins the group of the nearest named kernel upstream in the optimized graph (or,
at the model's input, downstream), and failing that is reported unmatched.
Every kernel is counted once.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from perfmodel.errors import PerfmodelError
from perfmodel.record import ModelCost

RUNTIMES = ("onnxruntime",)
SUFFIXES = ("_nchwc",)
"""Suffixes onnxruntime appends to the name of a node it rewrote."""


@dataclass(frozen=True)
class Kernel:
    name: str  # onnxruntime's node name
    op: str
    time_s: float  # median over the timed runs
    group: str | None  # the perfmodel group it joined (None: unmatched)


@dataclass(frozen=True)
class RuntimeProfile:
    runtime: str
    kernels: tuple[Kernel, ...]
    wall_s: float  # best end-to-end time of one inference (noise only adds time)
    runs: int
    group_s: Mapping[str, float] = field(default_factory=dict)  # measured seconds per group

    @property
    def kernel_sum_s(self) -> float:
        return sum(k.time_s for k in self.kernels)

    @property
    def unmatched(self) -> tuple[Kernel, ...]:
        return tuple(k for k in self.kernels if k.group is None)


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise PerfmodelError(f"--runtime {name!r}: choose one of {', '.join(RUNTIMES)}")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise PerfmodelError("--runtime onnxruntime needs onnxruntime: pip install -e \".[runtime]\"") from None
    return name


def names_of_groups(cost: ModelCost, groups: ModelCost) -> dict[str, str]:
    """Layer name -> its group, and each layer's output tensor name -> the group: onnxruntime names a
    node it rewrites after the node (`layer1.0.bn2_nchwc`) or, when the node had no name of its own,
    after its output tensor (`/features.0/Conv_output_0_nchwc`)."""
    from perfmodel.fusion import group_of_layer

    where = group_of_layer(groups)
    by_tensor = {tensor: where[layer.name] for layer in cost.layers if layer.name in where
                 for tensor in layer.output_names if tensor and tensor not in where}
    return by_tensor | where


def _base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def join(kernel_names: Mapping[str, str], optimized_nodes: list[tuple[str, list[str], list[str]]],
         group_of: Mapping[str, str]) -> dict[str, str | None]:
    """onnxruntime node name -> perfmodel group name: its own, else the nearest named node's upstream
    (a ReorderOutput after a conv), else downstream (the ReorderInput at the model's input); None when
    neither way reaches one.

    `kernel_names` maps each timed node to its op; `optimized_nodes` is the optimized graph as
    (name, inputs, outputs); `group_of` maps perfmodel layer names to their group.
    """
    producer = {out: name for name, _, outs in optimized_nodes for out in outs}
    consumers: dict[str, list[str]] = {}
    for name, ins, _ in optimized_nodes:
        for i in ins:
            consumers.setdefault(i, []).append(name)
    upstream = {name: [producer[i] for i in ins if i in producer] for name, ins, _ in optimized_nodes}
    downstream = {name: [c for o in outs for c in consumers.get(o, ())] for name, _, outs in optimized_nodes}
    return {name: _nearest(name, upstream, group_of) or _nearest(name, downstream, group_of)
            for name in kernel_names}


def _nearest(start: str, edges: Mapping[str, list[str]], group_of: Mapping[str, str]) -> str | None:
    """The group of the nearest node (breadth first along `edges`) whose name, suffix stripped, is known."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop(0)
        if node in seen:
            continue
        seen.add(node)
        if _base_name(node) in group_of:
            return group_of[_base_name(node)]
        todo += edges.get(node, ())
    return None


ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
              "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


def random_feeds(session, shapes: Mapping[str, tuple[int, ...]] | None = None, seed: int = 0) -> dict:
    """Random inputs for an onnxruntime session, at `shapes` (default: the session's own, a dynamic
    dim as 1), each in its input's element type."""
    import numpy as np

    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in session.get_inputs():
        shape = shapes[inp.name] if shapes and inp.name in shapes else [d if isinstance(d, int) else 1
                                                                        for d in inp.shape]
        feeds[inp.name] = rng.standard_normal(shape).astype(ORT_DTYPES.get(inp.type, "float32"))
    return feeds


def best_time(session, feeds: Mapping, runs: int, warmup: int = 3) -> float:
    """Best wall time of one `session.run` over `runs` runs after `warmup` (noise only adds time)."""
    for _ in range(warmup):
        session.run(None, feeds)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - start)
    return best


def profile(model_path: str | os.PathLike, feeds_shapes: Mapping[str, tuple[int, ...]], group_of: Mapping[str, str],
            runs: int = 10, threads: int | None = None) -> RuntimeProfile:
    """Run the model `runs` times (after 2 warm-ups) in onnxruntime with profiling, and join its kernels."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own load errors: invalid graph, unsupported op...
            raise PerfmodelError(f"onnxruntime cannot load {model_path}: {str(exc).splitlines()[0][:300]}") from None
        wall = best_time(session, random_feeds(session, feeds_shapes), runs, warmup=2)
        trace = json.loads(Path(session.end_profiling()).read_text())
        optimized = onnx.load(options.optimized_model_filepath, load_external_data=False)
    nodes = [(n.name, list(n.input), list(n.output)) for n in optimized.graph.node]
    samples: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            name = event["name"][: -len("_kernel_time")]
            samples.setdefault(name, []).append(event["dur"] * 1e-6)
            ops[name] = event.get("args", {}).get("op_name", "?")
    where = join(ops, nodes, group_of)
    # the warm-up runs are profiled too: keep each kernel's last `runs` samples
    kernels = tuple(Kernel(name, ops[name], statistics.median(times[-runs:]), where[name])
                    for name, times in samples.items())
    group_s: dict[str, float] = {}
    for k in kernels:
        if k.group is not None:
            group_s[k.group] = group_s.get(k.group, 0.0) + k.time_s
    return RuntimeProfile("onnxruntime", kernels, wall, runs, group_s)


def model_file(source: str, cost: ModelCost, folder: str) -> str:
    """A file onnxruntime can load: the source if it is one, else the built-in model exported with
    random weights into `folder`."""
    if Path(source).is_file():
        return source
    import models_onnx

    batch = next(iter(cost.inputs.values()))[0] if cost.inputs else 1
    return str(models_onnx.export(source, Path(folder) / f"{source}.onnx", weights="random", batch=batch))
