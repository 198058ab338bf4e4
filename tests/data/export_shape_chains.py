"""How tests/data/small_shuffle_swin_legacy.onnx, small_keep_inits.onnx and small_control_flow.onnx were
made: real torch legacy exports (dynamic batch) of a tiny network whose forward reads tensor sizes
mid-network, as ShuffleNet's channel shuffle and Swin's (shifted) window partition do; the tiny ResNet
of export_small_torch.py exported with keep_initializers_as_inputs=True; and a scripted module whose
forward loops (a trip count read from a tensor's size: an ONNX Loop) and branches on a value (an ONNX
If). Run with torch installed:
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


class Looping(nn.Module):
    """torch.jit.script keeps the loop and the branch: an ONNX Loop (its trip count x.size(1) // 4, 2 at
    8 channels) over conv + ReLU, then an If choosing one of two heads."""

    def __init__(s):
        super().__init__()
        s.conv = nn.Conv2d(8, 8, 3, padding=1)
        s.fc = nn.Linear(8, 4)

    def forward(s, x):
        for _ in range(x.size(1) // 4):
            x = torch.relu(s.conv(x))
        if bool(x.mean() > 0):
            y = s.fc(x.mean(dim=(2, 3)))
        else:
            y = -s.fc(x.amax(dim=(2, 3)))
        return y


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
    looping = Looping().eval()
    z = torch.randn(1, 8, 16, 16)
    torch.onnx.export(torch.jit.script(looping), (z,), f"{HERE}/small_control_flow.onnx", dynamo=False,
                      opset_version=17, input_names=["x"])
    print("control flow: torch params %d, MACs %d (the branch taken)" % counts(looping, z))
