"""Real torchvision exports for checking perfmodel against torch's own counts (not committed: large).

    python tests/data/export_torchvision.py OUT_DIR [model ...]

Every model is built with random weights (`weights=None`: nothing is downloaded), exported with the
legacy exporter (opset 17, dynamic batch) and the dynamo exporter, and torch's own figures are written
to OUT_DIR/torch_counts.json: parameters (sum of `p.numel()`), buffers (BatchNorm running stats), and
MACs at batch 1 from `torch.utils.flop_counter.FlopCounterMode` (conv + matmul FLOPs / 2).
Needs torch, torchvision and onnxscript (pip install torch torchvision onnxscript).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

MODELS = ("alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "densenet121", "mobilenet_v2",
          "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_1", "efficientnet_b0", "regnet_y_400mf",
          "mnasnet1_0", "resnext50_32x4d", "convnext_tiny", "swin_t", "vit_b_16", "inception_v3")


def build(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    size = 299 if name == "inception_v3" else 224
    return model, torch.randn(1, 3, size, size)


def torch_counts(model: torch.nn.Module, x: torch.Tensor) -> dict:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return {"params": sum(p.numel() for p in model.parameters()),
            "buffers": sum(b.numel() for n, b in model.named_buffers() if "num_batches" not in n),
            "macs": counter.get_total_flops() // 2}


def export(name: str, out: Path) -> dict:
    model, x = build(name)
    counts = torch_counts(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), out / f"{name}.legacy.onnx", dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}})
        try:
            torch.onnx.export(model, (x,), out / f"{name}.dynamo.onnx", dynamo=True, external_data=False)
            counts["dynamo"] = True
        except Exception as exc:  # some models do not export with dynamo in every torch version
            counts["dynamo"] = f"failed: {type(exc).__name__}"
    return counts


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    names = sys.argv[2:] or MODELS
    path = out / "torch_counts.json"
    counts = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        counts[name] = export(name, out)
        print(name, counts[name], flush=True)
        path.write_text(json.dumps(counts, indent=1))
