"""The report as a list of blocks (headings, paragraphs, tables, plots) read from `Report.data` only.

Markdown and HTML render the same blocks, so both show the same tables, and every number shown is
in the JSON (nothing here looks at a record or a spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from perfmodel.tables import CONVENTIONS
from perfmodel.units import binary, byte_rate, flop_rate, seconds, shape, si


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def colalign(self) -> tuple[str, ...]:
        """Right-align a column whose cells all read as numbers (start with a digit, or n/a, ?)."""
        def numeric(cell: str) -> bool:
            return cell[:1].isdigit() or cell in ("n/a", "?", "")
        return tuple("right" if self.rows and all(numeric(r[i]) for r in self.rows) else "left"
                     for i in range(len(self.headers)))


@dataclass(frozen=True)
class Image:
    plot: str  # Plot.name
    title: str


Block = Heading | Paragraph | Table | Image

TRAINING_RULES = (
    "Training step: backward of conv/FC = input gradient + weight gradient, each the forward MACs x 2 FLOPs "
    "(so 3x forward); the first layer with weights gets no input gradient (2x forward); other computing "
    "layers ~ their forward FLOPs; views and copies 0. Update FLOPs per parameter: SGD-momentum 4, Adam 12. "
    "Memory: weights and gradients at the compute dtype, optimizer state in fp32 (momentum 1x, Adam 2x "
    "params), fp32 master weights under mixed precision (fp16), activations kept for backward = every "
    "non-view layer output plus the input."
)
SPARSITY_RULES = (
    "Sparsity: conv/FC weight tensors at density d (biases and BatchNorm stay dense). Skip-zeros MACs = "
    "MACs x d. CSR = values + column indices ({index_width}) + int32 row pointers (rows = output channels); "
    "bitmap = values + 1 bit per element. Times are roofline times with the weight traffic of each format."
)


def _time(value: float | None) -> str:
    return seconds(value) if value is not None else "n/a"


def _count(value: float | None) -> str:
    return f"{value:,}" if value is not None else "?"


def _pct(value: float | None) -> str:
    return f"{100 * value:.1f}%" if value is not None else "n/a"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    return Table(tuple(headers), tuple(tuple(str(c) for c in row) for row in rows))


def _by(entries: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["model"] == model]


# -- sections --------------------------------------------------------------------------------------


def meta_blocks(data: dict[str, Any]) -> list[Block]:
    meta = data["meta"]
    rows = []
    for hw in meta["hardware"]:
        peaks = ", ".join(f"{d} {flop_rate(v, d)}" for d, v in hw["peak_flops"].items())
        ridge = hw["ridge_point"].get(meta["dtype"])
        rows.append([hw["name"], peaks, byte_rate(hw["mem_bandwidth"]),
                     f"{ridge:.3g}" if ridge is not None else "n/a",
                     "yes" if hw["accelerator"] else "no", hw["description"]])
    return [
        Heading(1, "perfmodel report: " + ", ".join(meta["models"])),
        Paragraph(f"dtype {meta['dtype']}. {CONVENTIONS}"),
        _table(["hardware", "peak", "bandwidth", f"ridge ({meta['dtype']}, FLOP/B)", "accelerator", "description"],
               rows),
    ]


COMPARISON_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("input", "inputs", lambda v: ", ".join(shape(tuple(s)) for s in v.values())),
    ("layers", "layers", str),
    ("params (trainable)", "params", _count),
    ("non-trainable params", "non_trainable_params", _count),
    ("MACs", "macs", _count),
    ("FLOPs", "flops", _count),
    ("activations (all outputs)", "activations", _count),
    ("neurons (conv/FC outputs)", "neurons", _count),
    ("weight memory", "weight_bytes", binary),
    ("activation memory (all outputs)", "activation_bytes", binary),
    ("peak live activation memory", "peak_activation_bytes", binary),
)


def models_blocks(data: dict[str, Any]) -> list[Block]:
    models = data["models"]
    rows = [[label, *(fmt(models[m][key]) for m in models)] for label, key, fmt in COMPARISON_ROWS]
    blocks: list[Block] = [Heading(2, "Model comparison"), _table(["", *models], rows)]
    unknown = {m: v["unsupported_ops"] for m, v in models.items() if v["unsupported_ops"]}
    if unknown:
        text = "; ".join(f"{m}: {', '.join(ops)}" for m, ops in unknown.items())
        blocks.append(Paragraph(f"Unknown cost (no rule): {text}"))
    return blocks


def heaviest_blocks(data: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Heaviest layers (top {data['meta']['top']} by FLOPs)")]
    for model, layers in data["heaviest_layers"].items():
        rows = [[l["index"], l["name"], l["op_type"], " ".join(shape(tuple(s)) for s in l["output_shapes"]),
                 si(l["params"]), si(l["macs"]), si(l["flops"]), _pct(l["flops_share"])] for l in layers]
        headers = ["#", "layer", "op", "output", "params", "MACs", "FLOPs", "% FLOPs"]
        blocks += [Heading(3, model), _table(headers, rows)]
    return blocks


def roofline_blocks(data: dict[str, Any]) -> list[Block]:
    rows, images, notes = [], [], []
    for e in data["roofline"]:
        if "total_s" not in e:
            notes.append(f"{e['model']} on {e['hw']}: {e['note']}")
            continue
        flops = sum(l["flops"] or 0 for l in e["layers"])
        achieved = flops / e["total_s"] if e["total_s"] else None
        rows.append([e["model"], e["hw"], e["dtype"], e["batch"], _time(e["total_s"]),
                     f"{e['images_per_s']:.4g}" if e["images_per_s"] else "n/a",
                     _pct(e["share_by_bound"]["compute"]), _pct(e["share_by_bound"]["memory"]),
                     flop_rate(achieved, e["dtype"]) if achieved else "n/a",
                     _pct(achieved / e["peak_flops"] if achieved else None)])
        notes += [f"{e['model']} on {e['hw']}: {n}" for n in e["notes"]]
        images.append(Image(e["plot"], f"Roofline of {e['model']} on {e['hw']}"))
    blocks: list[Block] = [
        Heading(2, "Roofline"),
        Paragraph("time = max(FLOPs / peak, bytes / bandwidth) per layer, summed over layers (Williams et al. 2009)."),
        _table(["model", "hardware", "dtype", "batch", "predicted time", "images/s", "time compute-bound",
                "time memory-bound", "attained", "% of peak"], rows),
    ]
    return blocks + [Paragraph(n) for n in notes] + images


def accelerator_blocks(data: dict[str, Any]) -> list[Block]:
    from perfmodel.report.accel_section import accelerator_tables, energy_table

    section = data["accelerator"]
    blocks: list[Block] = [Heading(2, f"Speedups over {section['baseline']}"), Paragraph(section["methods"])]
    if section["note"]:
        blocks.append(Paragraph(section["note"]))
    for (title, headers, rows), table in zip(accelerator_tables(section), section["tables"]):
        blocks += [Heading(3, title), _table(headers, rows)]
        energy = energy_table(table)
        if energy is not None:
            blocks += [Paragraph("Energy per inference (in brackets: the baseline's energy over this one; "
                                 "accelerators with an [accelerator.energy] table):"), _table(*energy)]
        blocks += [Paragraph(n) for n in table["notes"]]
    return blocks


FUSION_NOTE = ("Unfused, every layer reads its input from memory and writes its output back; fused as runtimes "
               "run a model (perfmodel.fusion), BatchNorm is folded into the conv before it and element-wise "
               "ops (Relu, the residual Add) run in the conv's output stage, so their tensors never touch memory.")


def fusion_blocks(data: dict[str, Any]) -> list[Block]:
    rows, sentences = [], []
    for e in data["fusion"]:
        if "note" in e:
            sentences.append(f"{e['model']} on {e['hw']}: {e['note']}")
            continue
        none, fused = e["none"], e["inference"]
        rows.append([e["model"], e["hw"], none["method"], _time(none["time_s"]), _time(fused["time_s"]),
                     f"{e['speedup']:.2f}x" if e["speedup"] else "n/a", _pct(none["share_outside_mac"]),
                     _pct(fused["share_outside_mac"])])
        sentences.append(
            f"{e['model']} on {e['hw']}: fusion cuts the predicted time per inference from {_time(none['time_s'])} "
            f"to {_time(fused['time_s'])} ({e['speedup']:.2f}x); the time outside MAC layers falls from "
            f"{_pct(none['share_outside_mac'])} to {_pct(fused['share_outside_mac'])}.")
    headers = ["model", "hardware", "method", "time unfused", "time fused", "fused speedup",
               "outside MAC, unfused", "outside MAC, fused"]
    return [Heading(2, "Fused and unfused"), Paragraph(FUSION_NOTE), _table(headers, rows),
            *(Paragraph(s) for s in sentences)]


def batch_blocks(data: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Batch sweep"),
                           Paragraph("Each batch size re-walks the graph; weights are read once per batch.")]
    for model in data["meta"]["models"]:
        entries = _by(data["batch_sweep"], model)
        timed = [e for e in entries if e["points"]]
        blocks.append(Heading(3, model))
        blocks += [Paragraph(f"{e['hw']}: {e['note']}") for e in entries if not e["points"]]
        if not timed:
            continue
        headers = ["batch", "FLOP/B"] + [h for e in timed
                                         for h in (f"time/image {e['hw']}", f"bound {e['hw']} (compute share)")]
        rows = []
        for k, p in enumerate(timed[0]["points"]):
            row = [p["batch"], f"{p['intensity']:.3g}"]
            for e in timed:
                q = e["points"][k]
                row += [_time(q["time_per_image_s"]), f"{q['bound']} ({_pct(q['compute_share'])})"]
            rows.append(row)
        blocks += [Image(timed[0]["plot"], f"Batch sweep of {model}"), _table(headers, rows)]
    return blocks


def _side_by_side(data: dict[str, Any], section: str, headers: Callable[[list], list[str]],
                  row: Callable[[dict, list[dict]], list[Any]]) -> list[Block]:
    """Per model one table; row k shows point k of the first entry and of every hardware's entry."""
    blocks: list[Block] = []
    for model in data["meta"]["models"]:
        entries = _by(data[section], model)
        rows = [row(points[0], list(points)) for points in zip(*(e["points"] for e in entries))]
        blocks += [Heading(3, model), _table(headers(entries), rows)]
    return blocks


def _dtype_row(p: dict, at: list[dict]) -> list[Any]:
    return [p["dtype"], p["bytes_per_elem"], binary(p["weight_bytes"]), binary(p["traffic_bytes"]),
            f"{p['intensity']:.3g}",
            binary(p["training_weight_bytes"]) if p["training_weight_bytes"] is not None else "n/a",
            *(_time(q["time_s"]) if q["time_s"] is not None else "n/a (no peak)" for q in at), p["note"]]


def _dtype_headers(entries: list[dict]) -> list[str]:
    return ["dtype", "B/elem", "weights", "traffic", "FLOP/B", "training weights (+fp32 master)",
            *(f"time {e['hw']}" for e in entries), "notes"]


def dtype_blocks(data: dict[str, Any]) -> list[Block]:
    return [Heading(2, "Dtype what-if"), *_side_by_side(data, "dtype", _dtype_headers, _dtype_row)]


SPARSE_FORMATS = ("dense", "csr", "bitmap")


def _sparsity_row(p: dict, at: list[dict]) -> list[Any]:
    return [f"{p['density']:g}", _count(p["sparse_macs"]), binary(p["dense_weight_bytes"]),
            binary(p["csr_weight_bytes"]), binary(p["bitmap_weight_bytes"]),
            " / ".join(f"{p['intensity'][f]:.3g}" for f in SPARSE_FORMATS),
            *(" / ".join(_time(q["time_s"][f]) for f in SPARSE_FORMATS) for q in at)]


def _sparsity_headers(entries: list[dict]) -> list[str]:
    return ["density", "MACs (skip zeros)", "weights dense", "CSR", "bitmap", "FLOP/B dense / CSR / bitmap",
            *(f"time {e['hw']} dense / CSR / bitmap" for e in entries)]


def sparsity_blocks(data: dict[str, Any]) -> list[Block]:
    notes = [Paragraph(f"{e['model']} on {e['hw']}: {e['note']}") for e in data["sparsity"] if e["note"]]
    return [Heading(2, "Sparsity what-if"), Paragraph(SPARSITY_RULES.format(index_width=data["meta"]["index_width"])),
            *_side_by_side(data, "sparsity", _sparsity_headers, _sparsity_row), *notes]


def training_blocks(data: dict[str, Any]) -> list[Block]:
    rows = [[e["model"], e["dtype"] + (" (mixed)" if e["mixed_precision"] else ""), e["optimizer"],
             si(e["forward_flops"]), si(e["backward_flops"]), si(e["optimizer_flops"]), si(e["step_flops"]),
             f"{e['step_over_forward']:.3g}" if e["step_over_forward"] else "n/a",
             binary(e["weight_bytes"]), binary(e["gradient_bytes"]), binary(e["optimizer_state_bytes"]),
             binary(e["master_weight_bytes"]), binary(e["activation_bytes"]), binary(e["memory_bytes"])]
            for e in data["training"]]
    headers = ["model", "precision", "optimizer", "forward FLOPs", "backward FLOPs", "update FLOPs", "step FLOPs",
               "step / forward", "weights", "gradients", "optimizer state", "fp32 master", "activations kept",
               "memory"]
    return [Heading(2, "Training step"), Paragraph(TRAINING_RULES), _table(headers, rows)]


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Block]]] = {
    "meta": meta_blocks, "models": models_blocks, "heaviest_layers": heaviest_blocks, "roofline": roofline_blocks,
    "accelerator": accelerator_blocks, "fusion": fusion_blocks, "batch_sweep": batch_blocks, "dtype": dtype_blocks,
    "sparsity": sparsity_blocks, "training": training_blocks,
}
"""The report's sections in order: the key of each in the report's data, and the blocks that render it."""


def blocks(data: dict[str, Any]) -> list[Block]:
    return [b for render in SECTIONS.values() for b in render(data)]
