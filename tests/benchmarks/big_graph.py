"""Whole-process time of `perfmodel analyze` on a 50,000-node graph.

    python tests/benchmarks/big_graph.py [--nodes 50000] [--rounds 5]

Writes a model of repeated [Conv 1x1 -> BatchNormalization -> Relu -> Add (residual)] blocks on an
8-channel 8x8 tensor (weights inline, small), then runs `python -m perfmodel analyze FILE --format json`
as a whole process, once to warm up (Python writes its compiled modules' cache, as on any machine
where PYTHONDONTWRITEBYTECODE is not set; it is dropped from the runs' environment) and `--rounds`
times, and prints min / median / max wall seconds (the minimum is the figure to quote on a shared
machine: noise only ever adds time). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def big_model(nodes: int, c: int = 8, size: int = 8) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    graph_nodes, inits = [], []
    x = "input"
    for i in range(nodes // 4):
        w, s, b, m, v = (f"b{i}.{n}" for n in ("w", "s", "b", "m", "v"))
        inits += [numpy_helper.from_array(rng.standard_normal((c, c, 1, 1)).astype(np.float32), w)]
        inits += [numpy_helper.from_array(np.full(c, k, np.float32), n) for n, k in ((s, 1), (b, 0), (m, 0), (v, 1))]
        graph_nodes += [
            helper.make_node("Conv", [x, w], [f"c{i}"], name=f"b{i}/conv"),
            helper.make_node("BatchNormalization", [f"c{i}", s, b, m, v], [f"n{i}"], name=f"b{i}/bn"),
            helper.make_node("Relu", [f"n{i}"], [f"r{i}"], name=f"b{i}/relu"),
            helper.make_node("Add", [f"r{i}", x], [f"a{i}"], name=f"b{i}/add"),
        ]
        x = f"a{i}"
    graph = helper.make_graph(graph_nodes, "big", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                 [1, c, size, size])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.onnx"
        onnx.save(big_model(args.nodes), path)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        walls = []
        for _ in range(args.rounds + 1):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "perfmodel", "analyze", str(path), "--format", "json"], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            walls.append(time.perf_counter() - start)
        walls = walls[1:]  # the warm-up
        print(f"analyze, {args.nodes} nodes ({path.stat().st_size / 2**20:.1f} MiB), whole process, "
              f"{args.rounds} rounds: min {min(walls):.2f} s, median {statistics.median(walls):.2f} s, "
              f"max {max(walls):.2f} s")


if __name__ == "__main__":
    main()
