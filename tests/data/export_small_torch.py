"""How tests/data/small_*.onnx were made: real torch exports (torch 2.13, legacy and dynamo exporters) of a
tiny ResNet written in the torchvision style. Run with torch and onnxscript installed:
    python tests/data/export_small_torch.py
It prints torch's own parameter count and MACs (FlopCounterMode), which tests/test_real_exports.py asserts.
"""
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s, c, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(c // stride, c, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(c)
        s.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(c)
        s.down = nn.Sequential(nn.Conv2d(c // stride, c, 1, stride, bias=False), nn.BatchNorm2d(c)) if stride > 1 else None
    def forward(s, x):
        y = torch.relu(s.bn1(s.conv1(x))); y = s.bn2(s.conv2(y))
        return torch.relu(y + (s.down(x) if s.down is not None else x))
class Small(nn.Module):
    """A tiny ResNet: stem, two blocks, global pool, view(N, -1) flatten, FC; like torchvision's code paths."""
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False); s.bn1 = nn.BatchNorm2d(16); s.pool = nn.MaxPool2d(3, 2, 1)
        s.layer1 = Block(16, 1); s.layer2 = Block(32, 2)
        s.avg = nn.AdaptiveAvgPool2d(1); s.fc = nn.Linear(32, 10)
    def forward(s, x):
        x = s.pool(torch.relu(s.bn1(s.conv1(x))))
        x = s.layer2(s.layer1(x))
        x = s.avg(x)
        x = x.view(x.size(0), -1)
        return s.fc(x)
m = Small().eval()
x = torch.randn(2, 3, 64, 64)
params = sum(p.numel() for p in m.parameters()); buffers = sum(b.numel() for n, b in m.named_buffers() if "num_batches" not in n)
print("torch params", params, "buffers", buffers)
for opset in (13, 17):
    torch.onnx.export(m, (x,), f"{HERE}/small_legacy_op{opset}.onnx", dynamo=False, opset_version=opset,
                      input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
torch.onnx.export(m, (x,), f"{HERE}/small_legacy_folded.onnx", dynamo=False, opset_version=17,
                  input_names=["input"], dynamic_axes={"input": {0: "batch"}})
try:
    ep = torch.onnx.export(m, (x,), f"{HERE}/small_dynamo.onnx", dynamo=True, input_names=["input"],
                           dynamic_shapes=({0: torch.export.Dim("batch")},), optimize=False)
except Exception as e:
    print("dynamo failed", repr(e)[:300])
try:
    torch.onnx.export(m, (x,), f"{HERE}/small_dynamo_opt.onnx", dynamo=True, input_names=["input"],
                      dynamic_shapes=({0: torch.export.Dim("batch")},))
except Exception as e:
    print("dynamo opt failed", repr(e)[:300])
from torch.utils.flop_counter import FlopCounterMode
with FlopCounterMode(display=False) as fc:
    m(x)
print("torch FlopCounterMode flops (2 per MAC, conv+mm only):", fc.get_total_flops(), "-> MACs", fc.get_total_flops() // 2)
