"""perfmodel against torch's own counts on real torchvision exports (made by tests/data/export_torchvision.py).

    python tests/data/export_torchvision.py /tmp/exports
    python tests/benchmarks/real_exports.py /tmp/exports

Prints, per export: perfmodel's params and MACs at batch 1 (`--batch 1` on the dynamic-batch legacy
files), torch's (parameters() and FlopCounterMode), their ratio, and whether every layer was costed.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

from perfmodel.errors import PerfmodelError
from perfmodel.walk import analyze_model


def main(folder: Path) -> int:
    torch_counts = json.loads((folder / "torch_counts.json").read_text())
    print(f"{'export':<32} {'params':>12} {'torch':>12} {'ratio':>8} {'MACs':>14} {'torch':>14} {'ratio':>8} "
          f"{'complete':>8} {'time':>6}")
    for name, ref in torch_counts.items():
        for kind in ("legacy", "dynamo"):
            path = folder / f"{name}.{kind}.onnx"
            if not path.exists():
                continue
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cost = analyze_model(path, batch=1)
            except PerfmodelError as exc:
                print(f"{path.name:<32} error: {exc}")
                continue
            dt = time.perf_counter() - t0
            print(f"{path.name:<32} {cost.params:>12,} {ref['params']:>12,} {cost.params / ref['params']:>8.4f} "
                  f"{cost.macs:>14,} {ref['macs']:>14,} {cost.macs / ref['macs']:>8.4f} {str(cost.complete):>8} "
                  f"{dt:>5.2f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
