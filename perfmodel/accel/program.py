"""A layer's schedule as the course's pseudo-ISA, with the estimated time of every part.

    move SRC DST BYTES     DMA between DRAM and an on-chip buffer: DRAM->WRAM (weights),
                           DRAM->NBin (input neurons), NBout->DRAM (outputs), DRAM->NBout
                           (partial sums read back when they were spilled)
    compute MAC_32 N       N multiply-accumulates on the array (MAC_16 for 16-bit, MAC_8 for int8)
    loop N ... endloop     repeat the body N times
    sync                   wait for every outstanding DMA

Each line's comment gives how many times it runs, its total bytes or cycles and its time (DRAM
time = bytes / bandwidth; compute time = cycles / clock). Bytes per line are full tiles; the totals
are the model's exact per-operand traffic (ragged last tiles included). An operand loaded outside
a loop it does not depend on stays resident across it (its footprint is streamed in while the
first tiles compute). The summary adds the parts without overlap, then with double buffering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfmodel.accel.results import OPERANDS, LayerResult
from perfmodel.hardware import AcceleratorSpec
from perfmodel.record import dtype_bytes
from perfmodel.units import seconds

BUFFERS = {"input": "DRAM->NBin", "weight": "DRAM->WRAM", "output": "NBout->DRAM"}
LOOP_NAMES = {"m": "M tiles (output rows/pixels)", "k": "K tiles (reduction)", "n": "N tiles (output channels)"}


@dataclass(frozen=True)
class Instruction:
    text: str
    depth: int
    count: int = 1  # times it runs
    nbytes: float = 0.0  # total DRAM bytes (moves)
    cycles: float = 0.0  # total cycles: compute cycles, or DRAM cycles of a move
    note: str = ""


def num(x: float) -> str:
    """1234567.0 -> '1,234,567'; 32.0625 -> '32.06' (cycles and bytes read best without exponents)."""
    return f"{x:,.0f}" if abs(x) >= 1000 or float(x).is_integer() else f"{x:.4g}"


def mac_op(dtype: str) -> str:
    return f"MAC_{8 * dtype_bytes(dtype)}"


def instructions(layer: LayerResult, acc: AcceleratorSpec, dtype: str) -> list[Instruction]:
    """The pseudo-ISA listing of one layer (a GEMM layer's tiled loops, or one streamed pass)."""
    per_byte = acc.clock_hz / acc.dram_bandwidth
    t = layer.traffic
    s = layer.schedule
    if s is None:
        return [Instruction(f"move DRAM->NBin {t.input + t.weight:.0f}", 0, 1, t.input + t.weight,
                            (t.input + t.weight) * per_byte),
                Instruction(f"compute {'VEC' if layer.kind == 'vector' else mac_op(dtype)} "
                            f"{layer.macs or layer.flops}", 0, 1, cycles=layer.compute_cycles),
                Instruction(f"move NBout->DRAM {t.output:.0f}", 0, 1, t.output, t.output * per_byte),
                Instruction("sync", 0)]
    totals = {"input": t.input - layer.residual_bytes, "weight": t.weight, "output": t.output + t.psum / 2}
    trips = dict(zip(("m", "k", "n"), s.trips))
    order = s.loop_order
    n_tiles = math.prod(s.trips) * s.groups
    body: list[Instruction] = []

    def move(op: str, depth: int, runs: int, note: str = "") -> Instruction:
        i = OPERANDS.index(op)
        return Instruction(f"move {BUFFERS[op]} {s.load_bytes[i]}", depth, runs * s.groups, totals[op],
                           totals[op] * per_byte, note)

    def emit(level: int, depth: int, runs: int) -> None:
        """Loads at this loop depth, the loop (or the compute) inside, then the stores."""
        for op in ("input", "weight"):
            if s.load_levels[OPERANDS.index(op)] == level:
                once = s.passes[OPERANDS.index(op)] == 1 and level == 0
                body.append(move(op, depth, runs, "resident: streamed in once" if once else ""))
        spills_here = s.psum_spill and s.load_levels[2] == level
        if spills_here:
            body.append(Instruction(f"move DRAM->NBout {s.load_bytes[2] // dtype_bytes(dtype) * s.accumulator_bytes}", depth,
                                    runs * s.groups, t.psum / 2, t.psum / 2 * per_byte,
                                    "partial sums back (all visits but the first)"))
        if level == len(order):
            body.append(Instruction(f"compute {mac_op(dtype)} {s.tm * s.tk * s.tn}", depth, n_tiles,
                                    cycles=layer.array_cycles or layer.compute_cycles, note=s.mapping))

        elif trips[order[level]] > 1:
            body.append(Instruction(f"loop {trips[order[level]]}", depth, note=LOOP_NAMES[order[level]]))
            emit(level + 1, depth + 1, runs * trips[order[level]])
            body.append(Instruction("endloop", depth))
        else:
            emit(level + 1, depth, runs)
        if s.load_levels[2] == level:
            if layer.fused_ops:
                body.extend(epilogue(depth, runs))
            body.append(move("output", depth, runs, "partial sums out on all visits but the last" if spills_here
                             else ""))

    def epilogue(depth: int, runs: int) -> list[Instruction]:
        """A fused group's output stage: its residual operand in, its element-wise ops on the tile."""
        tiles = s.trips[0] * s.trips[2] * s.groups  # each output tile once, on its last K visit
        out = []
        if layer.residual_bytes:
            out.append(Instruction(f"move DRAM->NBout {s.load_bytes[2]}", depth, tiles, layer.residual_bytes,
                                   layer.residual_bytes * per_byte, "residual operand, last K visit"))
        folded = [op for op in layer.fused_ops[1:] if op not in layer.epilogue_ops]
        note = "fused epilogue, last K visit, overlapped with the next tile's MACs"
        if folded:
            note += f" ({'+'.join(folded)} folded into the weights)"
        if layer.epilogue_ops:
            out.append(Instruction(f"compute VEC {'+'.join(layer.epilogue_ops)}", depth, tiles,
                                   cycles=layer.vector_cycles, note=note))
        return out

    if s.groups > 1:
        body.append(Instruction(f"loop {s.groups}", 0, note="groups"))
    emit(0, int(s.groups > 1), 1)
    if s.groups > 1:
        body.append(Instruction("endloop", 0))
    body.append(Instruction("sync", 0))
    return body


def format_program(layer: LayerResult, acc: AcceleratorSpec, dtype: str, title: str = "") -> str:
    """The listing with per-line estimates and the time summary (no overlap, then double-buffered)."""
    lines = [f"; {title}"] if title else []
    if layer.schedule is not None:
        s = layer.schedule
        lines.append(f"; GEMM {s.gemm}: tiles tm={s.tm} ({s.m_tile}) tk={s.tk} tn={s.tn}, loop order "
                     f"{' > '.join(s.loop_order)} (outer > inner), {s.mapping}")
    listing = instructions(layer, acc, dtype)
    width = max(len("  " * i.depth + i.text) for i in listing) + 2
    for ins in listing:
        code = "  " * ins.depth + ins.text
        parts = []
        if ins.count > 1 and not ins.text.startswith("loop"):
            parts.append(f"x{ins.count:,}")
        if ins.nbytes:
            parts.append(f"{ins.nbytes:,.0f} B")
        if ins.cycles:
            parts.append(f"{num(ins.cycles)} cycles, {seconds(ins.cycles / acc.clock_hz)}")
        if ins.note:
            parts.append(ins.note)
        lines.append(f"{code:<{width}}; {', '.join(parts)}" if parts else code)
    lines += summary(layer, acc)
    return "\n".join(lines)


def summary(layer: LayerResult, acc: AcceleratorSpec) -> list[str]:
    """The time of the parts and of the whole, with the overlap formula written out."""
    clock = acc.clock_hz
    t = layer.traffic
    sec = lambda c: seconds(c / clock)  # noqa: E731
    operands = ", ".join(f"{name} {getattr(t, name):,.0f}" for name in ("input", "weight", "output", "psum")
                         if getattr(t, name))
    lines = [
        f"; compute: {num(layer.compute_cycles)} cycles = {sec(layer.compute_cycles)}"
        + (f" ({layer.macs:,} MACs / {acc.macs_per_cycle} per cycle = {num(layer.macs / acc.macs_per_cycle)} "
           f"at full use)" if layer.macs else ""),
        f"; DRAM: {t.total:,.0f} B ({operands}) / {acc.dram_bandwidth / 1e9:g} GB/s = "
        f"{num(layer.memory_cycles)} cycles = {sec(layer.memory_cycles)}",
        f"; without overlap: compute + DRAM = {sec(layer.compute_cycles + layer.memory_cycles)}",
    ]
    if acc.double_buffering:
        lines.append(f"; double-buffered: max(compute + first loads + last store, DRAM + last tile's compute) = "
                     f"max({num(layer.compute_cycles)} + {num(layer.prologue_cycles)} + {num(layer.epilogue_cycles)}, "
                     f"{num(layer.memory_cycles)} + {num(layer.tile_compute_cycles)}) "
                     f"= {num(layer.total_cycles)} cycles = {sec(layer.total_cycles)}"
                     f" [{layer.bound}-bound, {100 * layer.utilisation:.1f}% MAC utilisation]")
    else:
        lines.append(f"; no double buffering on this accelerator: total = {sec(layer.total_cycles)} "
                     f"[{100 * layer.utilisation:.1f}% MAC utilisation]")
    return lines
