"""Whole-process time of `perfmodel analyze` on a 50,000-node graph, alone or side by side with earlier versions.

    python tests/benchmarks/big_graph.py [--nodes 50000] [--rounds 5] [--against REV [REV ...]]

Writes a model of repeated [Conv 1x1 -> BatchNormalization -> Relu -> Add (residual)] blocks on an
8-channel 8x8 tensor (weights inline, small), then runs `python -m perfmodel analyze FILE --format json`
as a whole process, once to warm up (Python writes its compiled modules' cache, as on any machine
where PYTHONDONTWRITEBYTECODE is not set; it is dropped from the runs' environment) and `--rounds`
times, and prints min / median / max wall seconds (the minimum is the figure to quote on a shared
machine: noise only ever adds time). With `--against`, each git revision is checked out in a
temporary worktree, each round runs every version once in a shuffled order, and this checkout's
time is printed as a ratio to each revision's: the median of the per-round ratios, and best / best
(the 2 s goal was set when 306eede took 5-6 s: `--against 306eede`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from operator import truediv
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
    parser.add_argument("--against", nargs="+", default=[], metavar="REV",
                        help="git revisions to time side by side with this checkout")
    parser.add_argument("--write", metavar="FILE", help=argparse.SUPPRESS)  # (the model only, then exit)
    args = parser.parse_args()
    if args.write:
        onnx.save(big_model(args.nodes), args.write)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.onnx"
        # written by a child process, so this one stays small: a forked child's peak RSS starts at ours
        subprocess.run([sys.executable, __file__, "--nodes", str(args.nodes), "--write", str(path)], check=True)
        versions = {"this": REPO}
        try:
            for rev in args.against:
                versions[rev] = Path(tmp) / rev
                subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(versions[rev]), rev],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs = _rounds(versions, path, args.rounds)
        finally:
            for rev in args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(versions[rev])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"analyze, {args.nodes} nodes ({path.stat().st_size / 2**20:.1f} MiB), whole process, "
              f"{args.rounds} rounds")
        for name, times in runs.items():
            walls = [wall for wall, _ in times]
            print(f"  {name:10s} min {min(walls):.2f} s, median {statistics.median(walls):.2f} s, "
                  f"max {max(walls):.2f} s; peak RSS {max(rss for _, rss in times):.0f} MiB")
        ours = [wall for wall, _ in runs["this"]]
        for rev in args.against:
            theirs = [wall for wall, _ in runs[rev]]
            print(f"  this / {rev}: median of per-round ratios {statistics.median(map(truediv, ours, theirs)):.3f}, "
                  f"best / best {min(ours) / min(theirs):.3f}")


REPO = Path(__file__).resolve().parents[2]


def _rounds(versions: dict[str, Path], path: Path, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """(wall seconds, peak RSS MiB) of each version's `analyze` on `path`, each round running every
    version once in a shuffled order, after a warm-up run of each."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "perfmodel", "analyze", str(path), "--format", "json"]
    for root in versions.values():
        _timed(command, root, env)
    order = random.Random(0)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in versions}
    for _ in range(rounds):
        names = list(versions)
        order.shuffle(names)
        for name in names:
            runs[name].append(_timed(command, versions[name], env))
    return runs


def _timed(command: list[str], root: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, from wait4) of `command` run in `root` (`python -m` imports
    the perfmodel found there first)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{root}: analyze failed")
    return wall, usage.ru_maxrss / 1024


if __name__ == "__main__":
    main()
