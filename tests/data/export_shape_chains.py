"""How tests/data/small_shuffle_swin_legacy.onnx and small_keep_inits.onnx were made: real torch legacy
exports (dynamic batch) of a tiny network whose forward reads tensor sizes mid-network, as ShuffleNet's
channel shuffle and Swin's (shifted) window partition do, and the tiny ResNet of export_small_torch.py
exported with keep_initializers_as_inputs=True. Run with torch installed:
    python tests/data/export_shape_chains.py
It prints torch's own parameter count and MACs (FlopCounterMode), which tests/test_real_exports.py asserts.
"""
import os

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def channel_shuffle(x, groups: int):
    """torchvision.models.shufflenetv2.channel_shuffle: sizes read from the tensor."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, -1, h, w)


def window_attention_like(x, ws: int, shift: int, qkv: nn.Linear):
    """Swin's shifted-window partition: roll, view into windows, a linear per window, merge back."""
    b, c, h, w = x.shape
    x = torch.roll(x, shifts=(-shift, -shift), dims=(2, 3)).permute(0, 2, 3, 1)
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
    x = qkv(x)
    x = x.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c).permute(0, 3, 1, 2)
    return torch.roll(x, shifts=(shift, shift), dims=(2, 3))


class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Conv2d(3, 16, 3, 1, 1)
        s.blocks = nn.ModuleList(nn.Conv2d(16, 16, 3, 1, 1, groups=2) for _ in range(6))
        s.qkv = nn.ModuleList(nn.Linear(16, 16) for _ in range(6))
        s.fc = nn.Linear(16, 10)

    def forward(s, x):
        x = s.stem(x)
        for i, (conv, qkv) in enumerate(zip(s.blocks, s.qkv)):
            x = torch.relu(conv(channel_shuffle(x, 2)))
            x = window_attention_like(x, 4, 2 if i % 2 else 0, qkv)
        return s.fc(x.mean((2, 3)))


def counts(model, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


if __name__ == "__main__":
    net = Net().eval()
    x = torch.randn(1, 3, 16, 16)
    print("shuffle/swin: torch params %d, MACs at batch 1 %d" % counts(net, x))
    torch.onnx.export(net, (x,), f"{HERE}/small_shuffle_swin_legacy.onnx", dynamo=False, opset_version=17,
                      input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}})
    # the tiny ResNet of export_small_torch.py: its class definitions, without that script's exports
    source = open(f"{HERE}/export_small_torch.py").read()
    scope: dict = {"nn": nn, "torch": torch}
    exec(source[source.index("class Block"):source.index("m = Small()")], scope)
    small = scope["Small"]().eval()
    y = torch.randn(2, 3, 64, 64)
    torch.onnx.export(small, (y,), f"{HERE}/small_keep_inits.onnx", dynamo=False, opset_version=13,
                      keep_initializers_as_inputs=True, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}})
    print("keep_initializers_as_inputs: torch params %d, MACs at batch 2 %d" % counts(small, y))
