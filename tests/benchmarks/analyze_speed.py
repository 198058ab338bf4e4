"""Whole-process speed of `perfmodel analyze` on an exported ResNet-152, side by side with onnx-tool.

Run: python tests/benchmarks/analyze_speed.py [--rounds 5]
Prints the median wall time and peak RSS of each tool's whole process on the same file (random
weights inline), and their ratio. onnx-tool is the `bench` extra: pip install -e ".[bench]".
Not a test: it asserts nothing, because shared machines are noisy; read the numbers.
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

ONNX_TOOL = "import sys, onnx_tool; onnx_tool.model_profile(sys.argv[1], save_profile=os.devnull)"


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB (from wait4's rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss / 1024


def measure(name: str, cmd: list[str], rounds: int) -> tuple[float, float]:
    runs = [run(cmd) for _ in range(rounds)]
    walls = [w for w, _ in runs]
    rss = max(r for _, r in runs)
    print(f"{name:28s} median {statistics.median(walls):6.3f} s  min {min(walls):6.3f} s  "
          f"max {max(walls):6.3f} s  peak RSS {rss:7.1f} MiB", flush=True)
    return statistics.median(walls), rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="resnet152")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.model}.onnx"
        # exported by a child process, so this one stays small: a forked child's peak RSS starts at ours
        subprocess.run([sys.executable, "-m", "perfmodel", "zoo", "export", args.model, "-o", str(path)], check=True,
                       stderr=subprocess.DEVNULL)
        size = path.stat().st_size / 2**20
        print(f"{args.model}.onnx: {size:.1f} MiB, random weights inline; {args.rounds} rounds each, whole process")
        ours, ours_rss = measure("perfmodel analyze", [sys.executable, "-m", "perfmodel", "analyze", str(path)],
                                 args.rounds)
        try:
            import onnx_tool  # noqa: F401
        except ImportError:
            print("onnx-tool not installed (pip install -e '.[bench]'): no ratio")
            return
        theirs, theirs_rss = measure("onnx-tool model_profile",
                                     [sys.executable, "-c", "import os; " + ONNX_TOOL, str(path)], args.rounds)
        print(f"ratio (onnx-tool / perfmodel): {theirs / ours:.1f}x faster; weights file {size:.0f} MiB, "
              f"perfmodel peak RSS {ours_rss:.0f} MiB vs onnx-tool {theirs_rss:.0f} MiB")


if __name__ == "__main__":
    main()
