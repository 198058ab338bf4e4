"""Tensor plumbing: views that only relabel storage, and copies that move data but compute nothing."""

from __future__ import annotations

from perfmodel.ops import MOVEMENT, VIEW, Cost, Node, numel, rule

VIEW_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")
COPY_OPS = ("Concat", "Transpose", "Slice", "Split", "Pad", "Tile", "Expand", "Gather", "GatherElements",
            "DepthToSpace", "SpaceToDepth", "Shape", "Size", "ConstantOfShape", "Range", "NonZero")


def _same_elements(node: Node) -> str | None:
    """A view relabels its input: its output has as many elements (ONNX Reshape, Flatten, Squeeze...)."""
    if node.op_type == "Dropout" or not node.inputs or node.inputs[0] is None:
        return None
    if numel(node.out) != numel(node.inputs[0]):
        return (f"the output {list(node.out)} has {numel(node.out)} elements, "
                f"the input {list(node.inputs[0])} {numel(node.inputs[0])}")
    return None


@rule(*VIEW_OPS, kind=VIEW, check=_same_elements)
def view(node: Node) -> Cost:
    """No FLOPs and no data moved: inference Dropout is the identity, the rest relabel dimensions."""
    return Cost()


@rule(*COPY_OPS, kind=MOVEMENT)
def copy(node: Node) -> Cost:
    """No FLOPs; the output is written once (counted in bytes, not here)."""
    return Cost()


@rule("Resize", "Upsample", kind=MOVEMENT)
def resize(node: Node) -> Cost:
    """Nearest: 0 FLOPs; linear: 3 FLOPs per lerp, 2^a - 1 lerps on a resized axes; cubic: 4^a - 1 cubic taps x 2."""
    x, y = node.inputs[0], node.out
    axes = sum(1 for i, o in zip(x, y) if i != o)
    mode = node.attrs.get("mode", "nearest")  # Upsample-7/9 and Resize: "nearest" by the spec's default
    per_out = {"nearest": 0, "linear": 3 * (2**axes - 1), "cubic": 2 * (4**axes - 1)}.get(mode, 0)
    return Cost(0, per_out * numel(y))
