"""Reference CNN zoo built directly with ``onnx.helper``.

No pretrained weights can be downloaded, so every network is rebuilt here
with the structure of torchvision's ONNX export (eval mode, BatchNorm kept as
its own node, Dropout omitted) and state_dict-style initializer names.

    >>> import models_onnx
    >>> m = models_onnx.build("resnet18")                 # no weight data: analysis only
    >>> m = models_onnx.build("lenet5", weights="random", batch="N")
    >>> models_onnx.export("alexnet", "alexnet.onnx")
"""

from __future__ import annotations

import os
import tempfile
import zlib
from pathlib import Path

import onnx

from . import alexnet, googlenet, lenet, mlp, resnet, vgg
from .builder import IR_VERSION, OPSET, WEIGHT_MODES, GraphBuilder, ModelSpec

__all__ = [
    "EXTERNAL_DATA_THRESHOLD", "INPUT_SHAPES", "IR_VERSION", "OPSET", "OUTPUT_SHAPES", "WEIGHT_MODES",
    "GraphBuilder", "ModelSpec", "UnknownModel", "build", "export", "input_shape", "names", "output_shape",
]

_ZOO: dict[str, ModelSpec] = {
    **alexnet.ZOO, **vgg.ZOO, **resnet.ZOO, **googlenet.ZOO, **lenet.ZOO, **mlp.ZOO,
}

#: default input shape (batch 1) per model
INPUT_SHAPES: dict[str, tuple[int, ...]] = {n: (1, *s.input_shape) for n, s in sorted(_ZOO.items())}
#: output shape (batch 1) per model
OUTPUT_SHAPES: dict[str, tuple[int, ...]] = {n: (1, *s.output_shape) for n, s in sorted(_ZOO.items())}

#: protobuf refuses messages >= 2 GiB; keep a margin for the graph itself.
EXTERNAL_DATA_THRESHOLD = 2**31 - 64 * 2**20


class UnknownModel(KeyError):
    """Raised by ``build``/``export`` for a name not in the zoo."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def names() -> list[str]:
    """All zoo names, sorted."""
    return sorted(_ZOO)


def _spec(name: str) -> ModelSpec:
    try:
        return _ZOO[name]
    except KeyError:
        raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def input_shape(name: str, batch: int | str = 1) -> tuple[int | str, ...]:
    """Input shape of ``name`` with the given batch (int or symbolic name)."""
    return (batch, *_spec(name).input_shape)


def output_shape(name: str, batch: int | str = 1) -> tuple[int | str, ...]:
    """Output shape of ``name`` with the given batch (int or symbolic name)."""
    return (batch, *_spec(name).output_shape)


def build(name: str, weights: str = "none", batch: int | str = 1, *, seed: int | None = None) -> onnx.ModelProto:
    """Build zoo model ``name`` as an ONNX ModelProto (opset 17, IR 8).

    weights: "none" (initializers carry dims/dtype only: instant, for
    analysis and shape inference), "random" (seeded He-scaled normal data,
    BN variances positive) or "zeros". batch: an int, or a string to make the
    batch dimension symbolic (dim_param). seed defaults to a hash of the name,
    so random builds are reproducible.
    """
    spec = _spec(name)
    if isinstance(batch, bool) or not isinstance(batch, (int, str)) or (isinstance(batch, int) and batch < 1):
        raise ValueError(f"batch must be a positive int or a dim_param string, got {batch!r}")
    g = GraphBuilder(name, weights, zlib.crc32(name.encode()) if seed is None else seed)
    out = spec.forward(g, "input")
    return g.to_model(out, (batch, *spec.input_shape), (batch, *spec.output_shape), spec.doc)


def _weight_bytes(model: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) + 4 * len(t.float_data) for t in model.graph.initializer)


def export(
    name: str, path: str | os.PathLike[str], weights: str = "random", batch: int | str = 1,
    *, external_data: bool | None = None,
) -> Path:
    """Write zoo model ``name`` to ``path`` and check it with ``onnx.checker``.

    Weights go to ``<file>.data`` next to the model when they exceed
    ``EXTERNAL_DATA_THRESHOLD`` (or when ``external_data=True``); inline
    otherwise. ``weights="none"`` is refused: a checker-valid file needs data.
    """
    if weights == "none":
        raise ValueError('export needs weight data: use weights="random" or "zeros"')
    path = Path(path)
    model = build(name, weights, batch)
    if external_data is None:
        external_data = _weight_bytes(model) > EXTERNAL_DATA_THRESHOLD
    path.parent.mkdir(parents=True, exist_ok=True)
    location = path.name + ".data"
    # Written and checked in a temp folder beside the target, then renamed into place: a failed
    # export (full disk, Ctrl-C) leaves any previous file as it was.
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        if external_data:
            onnx.save_model(model, staged, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=location, size_threshold=1024)
        else:
            onnx.save_model(model, staged)
        onnx.checker.check_model(str(staged))
        if external_data:
            os.replace(Path(tmp) / location, path.parent / location)
        os.replace(staged, path)
    return path
