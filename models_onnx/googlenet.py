"""GoogLeNet (Inception v1), torchvision layout, eval mode.

Why torchvision's and not the paper's: the reference counts (6,624,904
params) come from torchvision, whose BasicConv2d adds BatchNorm (eps 0.001),
whose "5x5" branch actually uses a 3x3 conv, and whose pools use
ceil_mode=True. Aux classifiers are dropped (eval) and transform_input is off.
"""

from __future__ import annotations

from .builder import GraphBuilder, ModelSpec

#: name -> (in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj); None = max-pool 3x3/2
#: (maxpool4 is 2x2/2), following torchvision's GoogLeNet.__init__.
INCEPTIONS: list[tuple[str, tuple[int, ...] | None]] = [
    ("inception3a", (192, 64, 96, 128, 16, 32, 32)),
    ("inception3b", (256, 128, 128, 192, 32, 96, 64)),
    ("maxpool3", None),
    ("inception4a", (480, 192, 96, 208, 16, 48, 64)),
    ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
    ("inception4c", (512, 128, 128, 256, 24, 64, 64)),
    ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
    ("inception4e", (528, 256, 160, 320, 32, 128, 128)),
    ("maxpool4", None),
    ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
    ("inception5b", (832, 384, 192, 384, 48, 128, 128)),
]


def basic_conv(g: GraphBuilder, x: str, name: str, cin: int, cout: int, kernel: int, stride: int = 1,
               padding: int = 0) -> str:
    """torchvision BasicConv2d: conv (no bias) + BN(eps=0.001) + ReLU."""
    x = g.conv(x, f"{name}.conv", cin, cout, kernel, stride, padding, bias=False)
    x = g.batchnorm(x, f"{name}.bn", cout, eps=0.001)
    return g.relu(x, f"{name}.relu")


def inception(g: GraphBuilder, x: str, name: str, cin: int, c1: int, c3r: int, c3: int,
              c5r: int, c5: int, pool_proj: int) -> str:
    """Four parallel branches concatenated on channels."""
    b1 = basic_conv(g, x, f"{name}.branch1", cin, c1, 1)
    b2 = basic_conv(g, x, f"{name}.branch2.0", cin, c3r, 1)
    b2 = basic_conv(g, b2, f"{name}.branch2.1", c3r, c3, 3, padding=1)
    b3 = basic_conv(g, x, f"{name}.branch3.0", cin, c5r, 1)
    b3 = basic_conv(g, b3, f"{name}.branch3.1", c5r, c5, 3, padding=1)  # 3x3, as torchvision
    b4 = g.maxpool(x, f"{name}.branch4.0", 3, 1, 1, ceil_mode=True)
    b4 = basic_conv(g, b4, f"{name}.branch4.1", cin, pool_proj, 1)
    return g.concat([b1, b2, b3, b4], f"{name}.concat", axis=1)


def forward(g: GraphBuilder, x: str) -> str:
    x = basic_conv(g, x, "conv1", 3, 64, 7, 2, 3)
    x = g.maxpool(x, "maxpool1", 3, 2, ceil_mode=True)
    x = basic_conv(g, x, "conv2", 64, 64, 1)
    x = basic_conv(g, x, "conv3", 64, 192, 3, padding=1)
    x = g.maxpool(x, "maxpool2", 3, 2, ceil_mode=True)
    for name, cfg in INCEPTIONS:
        if cfg is None:
            k = 2 if name == "maxpool4" else 3
            x = g.maxpool(x, name, k, 2, ceil_mode=True)
        else:
            x = inception(g, x, name, *cfg)
    x = g.global_avgpool(x, "avgpool")
    x = g.flatten(x, "flatten")
    return g.gemm(x, "fc", 1024, 1000)


ZOO: dict[str, ModelSpec] = {
    "googlenet": ModelSpec(forward, (3, 224, 224), (1000,), "torchvision GoogLeNet (eval, no aux, no transform_input)"),
}
