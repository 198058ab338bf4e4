"""Design points per second of `perfmodel sweep` on ResNet-50, at 1 and 2 workers (whole processes).

    python tests/benchmarks/sweep_speed.py [--points 10000] [--rounds 3]

Writes a sweep of `--points` seed-npu variations (mac_rows x mac_cols x weight buffer x DRAM bandwidth
x clock x dataflow, fused ResNet-50 at batch 1), runs it with --jobs 1 and --jobs 2 in turn, `--rounds`
times each interleaved (noise only ever adds time: the best round is quoted), and prints points per
second and the parallel efficiency, throughput(2) / (2 x throughput(1)). Asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AXES = {"mac_rows": [4, 8, 16, 32, 64], "mac_cols": [4, 8, 16, 32, 64], "weight_buffer_KiB": [64, 128, 256, 512],
        "dram_bandwidth_GBps": [16, 32, 64, 128, 256], "clock_GHz": [0.5, 1, 2, 4, 8],
        "dataflow": ['"weight-stationary"', '"output-stationary"'], "input_buffer_KiB": [32, 64, 128, 256]}


def sweep_text(points: int) -> str:
    """A [grid] over the leading axes of AXES (the last one taken in part) with at least `points`
    points, and its exact number of points."""
    sizes, chosen = 1, {}
    for key, values in AXES.items():
        if sizes >= points:
            break
        take = min(len(values), -(-points // sizes))
        chosen[key] = values[:take]
        sizes *= take
    lines = ['base = "seed-npu"', 'models = ["resnet50"]', "[grid]"]
    lines += [f"{k} = [{', '.join(map(str, v))}]" for k, v in chosen.items()]
    return "\n".join(lines) + "\n", sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    text, n = sweep_text(args.points)
    best = {1: float("inf"), 2: float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.toml"
        path.write_text(text)
        for _ in range(args.rounds):
            for jobs in (1, 2):
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "perfmodel", "sweep", str(path), "-o",
                                       str(Path(tmp) / "r.csv"), "--jobs", str(jobs), "--format", "json"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if done.returncode:
                    raise SystemExit(f"sweep --jobs {jobs} failed: {done.stderr[-2000:]}")
                best[jobs] = min(best[jobs], time.perf_counter() - start)
    rate = {j: n / t for j, t in best.items()}
    print(f"{n:,} ResNet-50 design points (fused, batch 1), best of {args.rounds} interleaved rounds, whole process:")
    for jobs in (1, 2):
        print(f"  --jobs {jobs}: {best[jobs]:7.1f} s, {rate[jobs]:7.1f} points/s")
    print(f"  parallel efficiency 1 -> 2 workers: {rate[2] / (2 * rate[1]):.0%}")


if __name__ == "__main__":
    main()
