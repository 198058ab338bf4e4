"""Human tables of a ModelCost (tabulate): the per-layer table and the totals, with conventions stated."""

from __future__ import annotations

from tabulate import tabulate

from perfmodel.record import ModelCost, dtype_bytes
from perfmodel.tables.render import numbered, render
from perfmodel.units import binary, shape, si

CONVENTIONS = (
    "MAC = one multiply-accumulate; FLOPs = 2 x MACs for conv/gemm, plus each element-wise op's own work.\n"
    "Params = trainable (torchvision's count); non-trainable = BatchNorm running mean/var. "
    "Bytes: each operand read once, each output written once; float tensors at the dtype, integer tensors "
    "(quantized data, int32 biases, indices) at their stored widths."
)


def header(cost: ModelCost) -> str:
    inputs = ", ".join(f"{name} {shape(s)}" for name, s in cost.inputs.items())
    return (f"{cost.model}: input {inputs}; dtype {cost.dtype} ({dtype_bytes(cost.dtype)} B/element)\n"
            + CONVENTIONS)


def layer_table(cost: ModelCost, top: int | None = None, tablefmt: str = "simple") -> str:
    """One row per layer, or the `top` layers with the most FLOPs, with their share of the total."""
    rows = numbered(cost.layers, top, key=lambda layer: layer.flops)
    total_flops = cost.flops or 1
    table = []
    for index, layer in rows:
        known = layer.supported
        unknown = "?"
        table.append([
            index, layer.name, layer.op_type, " ".join(shape(s) for s in layer.output_shapes),
            si(layer.params + layer.non_trainable_params) if known else unknown,
            si(layer.macs) if known else unknown,
            si(layer.flops) if known else unknown,
            f"{100 * layer.flops / total_flops:.1f}" if known else unknown,
            si(layer.activations),
            binary(layer.bytes_read) if known else unknown,
            binary(layer.bytes_written) if known else unknown,
            f"{layer.intensity:.1f}" if known else unknown,
            layer.receptive_field if layer.receptive_field is not None else "",
        ])
    heads = ["#", "name", "op", "output", "params", "MACs", "FLOPs", "%FLOPs", "activations", "read", "written",
             "FLOP/B", "RF"]
    return render(table, heads, tablefmt, ("right", "left", "left", "left") + ("right",) * 9)


def group_table(fused: ModelCost, top: int | None = None, tablefmt: str = "simple") -> str:
    """One row per fused group (or the `top` with the most FLOPs): its ops, work and boundary traffic."""
    rows = numbered(fused.layers, top, key=lambda group: group.flops)
    table = []
    for index, group in rows:
        known = group.supported
        table.append([index, group.name, group.op_label, len(group.members or (group.name,)),
                      si(group.macs) if known else "?", si(group.flops) if known else "?",
                      binary(group.bytes_read) if known else "?", binary(group.bytes_written) if known else "?",
                      f"{group.intensity:.1f}" if known else "?"])
    heads = ["#", f"group ({fused.fusion} fusion)", "ops", "layers", "MACs", "FLOPs", "read", "written", "FLOP/B"]
    return render(table, heads, tablefmt, ("right", "left", "left") + ("right",) * 6)


def scope_table(cost: ModelCost, depth: int, tablefmt: str = "simple") -> str:
    """Totals per name scope at `depth`, with the share of the model's FLOPs; '+?' marks a lower bound."""
    from perfmodel.scopes import scopes

    total = cost.flops or 1
    rows = []
    for s in scopes(cost, depth):
        mark = "" if s.complete else " +?"
        rows.append([s.name, len(s.layers), si(s.total("params") + s.total("non_trainable_params")) + mark,
                     si(s.total("macs")) + mark, si(s.total("flops")) + mark,
                     f"{100 * s.total('flops') / total:.1f}", binary(s.total("bytes_read")) + mark,
                     binary(s.total("bytes_written")) + mark])
    heads = [f"scope (depth {depth})", "layers", "params", "MACs", "FLOPs", "%FLOPs", "read", "written"]
    return render(rows, heads, tablefmt, ("left",) + ("right",) * 7)


def incomplete_line(cost: ModelCost) -> str:
    """The loud last line of every output of a partial result ('' for a complete one)."""
    if cost.complete:
        return ""
    names = cost.unknown_layers
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"INCOMPLETE: {len(names)} of {len(cost.layers)} layers of {cost.model} have unknown cost ({shown}); "
            f"every total is a lower bound")


def totals_table(cost: ModelCost, tablefmt: str = "simple") -> str:
    t = cost.totals()
    unknown = ""
    if not cost.complete:
        unknown = f" + unknown ({', '.join(cost.unsupported_ops) or 'shapes unknown'})"
    rows = [
        ["params (trainable)", f"{t['params']:,}", si(t["params"])],
        ["non-trainable params", f"{t['non_trainable_params']:,}", si(t["non_trainable_params"])],
        ["MACs", f"{t['macs']:,}{unknown}", si(t["macs"], "MAC")],
        ["FLOPs", f"{t['flops']:,}{unknown}", si(t["flops"], "FLOP")],
        ["activations (all layer outputs)", f"{t['activations']:,}", si(t["activations"])],
        ["neurons (conv/FC outputs)", f"{t['neurons']:,}", si(t["neurons"])],
        ["weight memory", f"{t['weight_bytes']:,.0f} B", binary(t["weight_bytes"])],
        ["activation memory (all outputs)", f"{t['activation_bytes']:,.0f} B", binary(t["activation_bytes"])],
        ["peak live activation memory", f"{t['peak_activation_bytes']:,.0f} B", binary(t["peak_activation_bytes"])],
    ]
    head = "total" if cost.complete else "total (LOWER BOUND: layers of unknown cost)"
    table = tabulate(rows, [head, "exact", "human"], tablefmt=tablefmt, disable_numparse=True,
                     colalign=("left", "right", "right"))
    return table + ("\n\n" + incomplete_line(cost) if not cost.complete else "")
