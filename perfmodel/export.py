"""Machine-readable forms of a ModelCost: the JSON contract, CSV rows, Markdown tables.

The JSON contract (other tools script against it): {model, dtype, inputs, complete, unknown_layers,
totals_are_lower_bounds, totals, layers, unsupported_ops, fusion, groups}; see `model_dict`. Keys are
only ever added, never renamed.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from operator import attrgetter
from typing import Any

import orjson

from perfmodel.collector import collector_paused
from perfmodel.record import LayerCost, ModelCost

LAYER_FIELDS = ("name", "op_type", "input_shapes", "output_shapes", "params", "non_trainable_params", "macs",
                "flops", "activations", "bytes_read", "weight_bytes_read", "input_bytes_read", "bytes_written",
                "intensity", "receptive_field", "supported")


def layer_dict(layer: LayerCost) -> dict[str, Any]:
    """One layer of the JSON contract; an unsupported layer's unknown figures are null. (Shapes stay
    tuples: JSON writes them as arrays.)"""
    if layer.supported:
        row = {
            "name": layer.name,
            "op_type": layer.op_type,
            "input_shapes": layer.input_shapes,
            "output_shapes": layer.output_shapes,
            "params": layer.params,
            "non_trainable_params": layer.non_trainable_params,
            "macs": layer.macs,
            "flops": layer.flops,
            "activations": layer.activations,
            "bytes_read": layer.bytes_read,
            "weight_bytes_read": layer.weight_bytes_read,
            "input_bytes_read": layer.input_bytes,
            "bytes_written": layer.bytes_written,
            "intensity": _rounded(layer.intensity),
            "receptive_field": layer.receptive_field,
            "supported": True,
        }
    else:  # every field null (in the contract's order), then the ones known without a cost rule
        row = dict.fromkeys(LAYER_FIELDS)
        row.update(name=layer.name, op_type=layer.op_type, input_shapes=layer.input_shapes,
                   output_shapes=layer.output_shapes, activations=layer.activations,
                   receptive_field=layer.receptive_field, supported=False)
    if layer.branches:
        row["subgraphs"] = [{"name": n, "macs": m, "flops": f} for n, m, f in layer.branches]
    return row


@lru_cache(maxsize=4096, typed=True)
def _rounded(intensity: float) -> float:
    """Intensity to 6 decimals (layers alike share values: round() costs half a microsecond)."""
    return round(intensity, 6)


def group_dict(group: LayerCost, time_s: float | None = None) -> dict[str, Any]:
    """One fused group (perfmodel.fusion): its layers, their ops, work and boundary traffic."""
    known = group.supported
    data = {
        "name": group.name,
        "layers": group.members or (group.name,),
        "op_types": group.fused_ops or (group.op_type,),
        "macs": group.macs if known else None,
        "flops": group.flops if known else None,
        "bytes_read": group.bytes_read if known else None,
        "bytes_written": group.bytes_written if known else None,
        "intensity": _rounded(group.intensity) if known else None,
    }
    if time_s is not None:
        data["time_s"] = time_s
    return data


def model_dict(cost: ModelCost, fused: ModelCost | None = None) -> dict[str, Any]:
    """The analysis (layer by layer, as the graph has them) and, from `fused` (default: each layer
    alone), the groups they run in, with `group` on every layer."""
    groups = fused if fused is not None else cost
    own, where = _grouping(cost, groups)
    layers = _layer_rows(cost.layers, where)
    return _contract(cost, groups, layers, [_own_group(layer) for layer in layers] if own
                     else [group_dict(g) for g in groups.layers])


def _contract(cost: ModelCost, groups: ModelCost, layer_rows: Any, group_rows: Any) -> dict[str, Any]:
    """`model_dict` of its layers' and groups' rows."""
    unknown = cost.unknown_layers  # (ModelCost.complete is their absence: one pass over the layers, not three)
    return {
        "model": cost.model,
        "dtype": cost.dtype,
        "inputs": {name: list(shape) for name, shape in cost.inputs.items()},
        "complete": not unknown,
        "unknown_layers": list(unknown),
        "totals_are_lower_bounds": bool(unknown),
        "totals": cost.totals(),
        "layers": layer_rows,
        "unsupported_ops": list(cost.unsupported_ops),
        "fusion": groups.fusion,
        "groups": group_rows,
    }


def _grouping(cost: ModelCost, groups: ModelCost) -> tuple[bool, dict[str, str] | None]:
    """Whether each layer of `cost` is its own group of `groups` (unfused: the group's figures are
    the layer's), and otherwise the group of each layer that is in one."""
    if groups.layers is cost.layers and not any(map(attrgetter("members"), cost.layers)):
        return True, None
    return False, {member: g.name for g in groups.layers for member in (g.members or (g.name,))}


def _layer_rows(layers, where: dict[str, str] | None) -> list[dict[str, Any]]:
    """`layer_dict` of each layer, with its group (`_grouping`: itself where `where` is None)."""
    rows = [layer_dict(layer) for layer in layers]
    for row in rows:
        row["group"] = row["name"] if where is None else where.get(row["name"], row["name"])
    return rows


def _own_group(layer: dict[str, Any]) -> dict[str, Any]:
    """`group_dict` of a layer that is a group alone, from its `layer_dict` (the same figures)."""
    return {"name": layer["name"], "layers": (layer["name"],), "op_types": (layer["op_type"],),
            "macs": layer["macs"], "flops": layer["flops"], "bytes_read": layer["bytes_read"],
            "bytes_written": layer["bytes_written"], "intensity": layer["intensity"]}


def json_text(data: Any) -> str:
    """JSON with one key per line at the top, and each element of a list of objects (layers, groups)
    on one line of its own, compact (`encode`: the bulk of a large model's output): readable,
    diff-able, fast to write. Non-finite numbers are refused."""
    return json_bytes(data).decode()


def json_bytes(data: Any) -> bytes:
    """`json_text` as UTF-8, made as bytes (`json_pieces`, joined)."""
    return b"".join(json_pieces(data))


def json_pieces(data: Any) -> list[bytes | memoryview]:
    """`json_bytes` in the pieces it is made of, to be written one after the other: a 50,000-layer
    analysis is 25 MB of JSON, and each copy of it (to text, to one string, to bytes) costs."""
    out: list[bytes | memoryview] = []
    _write_json(data, "", out)
    return out


def _write_json(v: Any, indent: str, out: list[bytes | memoryview]) -> None:
    """`json_bytes` of `v`, as pieces appended to `out`, its nested lines indented past `indent`."""
    inner = indent + "  "
    if isinstance(v, _Encoded):  # (rows at the top level, as _ROW_SEPARATOR has them)
        out += [f"[\n{inner}".encode(), *_separated(v.parts, _ROW_SEPARATOR.encode()), f"\n{indent}]".encode()] \
            if v.parts else [b"[]"]
    elif isinstance(v, list) and v and all(isinstance(item, dict) for item in v):
        out += [f"[\n{inner}".encode(), encode_lines(v, ",\n" + inner), f"\n{indent}]".encode()]
    elif isinstance(v, dict) and v and any(isinstance(x, (dict, list)) for x in v.values()):
        for k, (key, x) in enumerate(v.items()):
            out.append(f"{',' if k else '{'}\n{inner}{json.dumps(str(key))}: ".encode())
            _write_json(x, inner, out)
        out.append(f"\n{indent}}}".encode())
    else:
        out.append(json.dumps(v, allow_nan=False).encode())


def _separated(parts: list, separator: Any) -> list:
    """`parts` with `separator` between each two."""
    spaced = [separator] * (2 * len(parts) - 1)
    spaced[::2] = parts
    return spaced


def encode(value: Any) -> str:
    """One JSON value on one line, by orjson (a 50,000-layer analysis in a tenth of a second, five
    times json's own encoder), or by json's for what orjson cannot write (an integer over 64 bits:
    the MACs of a loop of 2^62 trips). Both write the shortest float that reads back exactly; a
    non-finite number is refused (`_refuse_non_finite`), as by json."""
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    _refuse_non_finite(text, [value])
    return text.decode()


_LINE_BREAK = orjson.Fragment(b"\n")


def encode_lines(items: list[Any], separator: str) -> bytes | memoryview:
    """`encode` of each item, joined by `separator`, as UTF-8, in one call of orjson: a list with a
    raw line break (an `orjson.Fragment`) between items, which orjson writes nowhere else (it escapes
    control characters in strings), so each ",<line break>," is a boundary between two items.
    Written item by item where orjson cannot write the list."""
    try:
        text = orjson.dumps(_separated(items, _LINE_BREAK))
    except orjson.JSONEncodeError:
        return separator.join([encode(item) for item in items]).encode()
    _refuse_non_finite(text, items)
    return memoryview(text.replace(b",\n,", separator.encode()))[1:-1]  # (a view: the list's brackets left out)


def _refuse_non_finite(text: bytes, items: list[Any]) -> None:
    """orjson writes NaN and infinities as null: where its `text` of `items` holds a null, a
    non-finite number in them is an error (ValueError, as json's), naming the item."""
    if b"null" in text and _non_finite(items):
        raise ValueError("a non-finite number cannot be written as JSON: "
                         f"{next(item for item in items if _non_finite(item))!r}"[:300])


def _non_finite(value: Any) -> bool:
    """Whether a float in `value`, or in the dicts and lists it holds, is NaN or infinite (tuples hold
    shapes and names: no floats)."""
    if isinstance(value, float):
        return value - value != 0  # NaN - NaN and inf - inf are NaN
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(type(x) is float and x - x != 0 or isinstance(x, (dict, list)) and _non_finite(x) for x in items)


def to_json(cost: ModelCost, fused: ModelCost | None = None, depth: int | None = None) -> list[bytes | memoryview]:
    """The JSON contract (`model_dict`, and `scopes` at `depth`), as UTF-8 in pieces (`json_pieces`)."""
    with collector_paused():  # the rows live until written, then die by refcount
        groups = fused if fused is not None else cost
        data = _contract(cost, groups, *_encoded_rows(cost, groups))
        if depth:
            from perfmodel.scopes import scope_dict, scopes

            data["scopes"] = [scope_dict(s, depth) for s in scopes(cost, depth)]
        return json_pieces(data)


_CHUNK_ROWS = 2048
"""Rows `_encoded_rows` makes and encodes at a time."""

_ROW_SEPARATOR = ",\n    "  # between the rows of a list at the contract's top level, as `_write_json` has it


def _encoded_rows(cost: ModelCost, groups: ModelCost) -> tuple[_Encoded, _Encoded]:
    """`model_dict`'s rows of the layers and of the groups, made and encoded (`encode_lines`) a chunk
    at a time: the rows of a large model never all live as dicts at once (a 50,000-layer model's
    take 30 MB), and the memory of one chunk's is used again by the next's."""
    own, where = _grouping(cost, groups)
    layers, group_parts = _Encoded(), _Encoded()
    for start in range(0, len(cost.layers), _CHUNK_ROWS):
        rows = _layer_rows(cost.layers[start:start + _CHUNK_ROWS], where)
        layers.parts.append(encode_lines(rows, _ROW_SEPARATOR))
        if own:
            group_parts.parts.append(encode_lines([_own_group(row) for row in rows], _ROW_SEPARATOR))
    for start in range(0, 0 if own else len(groups.layers), _CHUNK_ROWS):
        group_parts.parts.append(encode_lines([group_dict(g) for g in groups.layers[start:start + _CHUNK_ROWS]],
                                              _ROW_SEPARATOR))
    return layers, group_parts


class _Encoded:
    """A list of rows at the contract's top level, encoded already (`_encoded_rows`), in parts."""

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []


def scopes_csv(cost: ModelCost, depth: int) -> str:
    """One row per name scope at `depth` (perfmodel.scopes)."""
    from perfmodel.scopes import scope_dict, scopes

    return rows_csv([scope_dict(s, depth) for s in scopes(cost, depth)])


def rows_csv(rows: list[dict[str, Any]], fields: list[str] | None = None) -> str:
    """Rows of plain values as CSV with a header line (the fields of the first row by default)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields or (list(rows[0]) if rows else ["name"]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_csv(cost: ModelCost) -> str:
    rows = []
    for layer in cost.layers:
        row = layer_dict(layer)
        row["input_shapes"] = " ".join("x".join(map(str, s)) for s in layer.input_shapes)
        row["output_shapes"] = " ".join("x".join(map(str, s)) for s in layer.output_shapes)
        rows.append(row)
    return rows_csv(rows, list(LAYER_FIELDS))
