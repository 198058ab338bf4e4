"""The tiling search: tile sizes x loop orders x array mappings that fit the buffers; fastest, then fewest DRAM bytes.

Closed forms over a grid of candidate tiles (numpy), no cycle-by-cycle simulation. Per group:

Traffic. Each operand (input A[m,k], weight B[k,n], output C[m,n]) is loaded at some loop depth
and then holds its footprint: its tile along the dims whose loops are outside that depth, its full
extent along the dims whose loops are inside. Its natural depth is just inside the innermost loop
(trip > 1) it depends on. Each loop outside that depth that the operand does NOT depend on makes it
stream from DRAM again (a "pass"): e.g. the input is reloaded once per N tile when n is outside m
and k. The search hoists an operand outward past such loops when its footprint fits its buffer:
it then stays resident (all the weights in WRAM are loaded once whatever the loop order).
- Budget per buffer: capacity / 2 with double buffering (one tile computing, one loading), else all.
- input bytes  = passes x input pixels read by all M tiles x channels x dtype bytes (a conv tile
  reads its input window; the halo shared with the next tile is read again).
- weight bytes = passes x (K + bias rows) x N x dtype bytes.
- output: written once at the dtype's width; accumulated at `accumulator_bits` (default 32) in the
  output buffer. If its tiles are revisited (passes > 1: K is tiled outside them and the outputs
  cannot stay resident), every extra pass spills the partial sums and reads them back:
  psum bytes = (passes - 1) x M x N x accumulator bytes x 2.
Compute. cycles = blocks_M x blocks_K x blocks_N, blocks_D = sum over D's tiles of
ceil(tile / lanes on D) (ragged edges of tiles and array); a systolic array adds fill and drain,
rows + cols - 2 cycles, for every pass of a streamed-dim tile through an array block. Each such pass
holds one "fold" of the stationary operand in the array: with `weight_load = "serial"` loading a fold
stalls the array `mac_rows` cycles (SCALE-Sim's count), passes x rows more cycles; with "overlapped"
(the default, TPU-style) the next fold loads while this one computes.
Choice: the fewest cycles (overlapped total, within TIME_TOLERANCE), then the fewest DRAM bytes,
then the fewest tiles (within TIE_TOLERANCE of that schedule's time).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from perfmodel.accel.cost import memory_cycles, overlapped_cycles
from perfmodel.accel.dataflow import OPERAND_DIMS, ArrayMapping, get_dataflow
from perfmodel.accel.gemm_view import GemmView
from perfmodel.accel.results import OPERANDS, LayerSchedule, Traffic
from perfmodel.errors import PerfmodelError
from perfmodel.hardware import AcceleratorSpec
from perfmodel.record import dtype_bytes



@dataclass(frozen=True)
class GemmPlan:
    """The chosen schedule and its costs, all groups included."""

    schedule: LayerSchedule
    traffic: Traffic
    compute_cycles: float
    prologue_bytes: float  # the first input and weight tiles: loaded before any compute
    epilogue_bytes: float  # the last output tile: stored after all compute
    tile_compute_cycles: float  # one tile's compute (mean), the last of which no transfer hides


def _col(values, axis: int) -> np.ndarray:
    shape = [1, 1, 1]
    shape[axis] = -1
    return np.asarray(values, dtype=float).reshape(shape)


class _Grid:
    """Candidate tiles along m, k, n as broadcastable arrays (axis 0: m, 1: k, 2: n); one per GEMM view
    (`grid_of`), with array passes per lane count computed on first use and kept."""

    def __init__(self, view: GemmView):
        mt, kt, nt = view.m_tiles, view.k_tiles, view.n_tiles
        self.splits = {"m": [t.split for t in mt], "k": list(kt), "n": list(nt)}
        self.tm = _col([t.split.size for t in mt], 0)
        self.rows_tile = _col([t.rows_tile for t in mt], 0)
        self.rows_pass = _col([t.rows_pass for t in mt], 0)
        self.kc = _col([s.tile for s in kt], 1)
        self.tk = _col([s.size for s in kt], 1)
        self.tn = _col([s.size for s in nt], 2)
        self.trips = {"m": _col([t.split.count for t in mt], 0), "k": _col([s.count for s in kt], 1),
                      "n": _col([s.count for s in nt], 2)}
        self.shape = (len(mt), len(kt), len(nt))
        self._blocks: dict[tuple[str, int], np.ndarray] = {}

    def blocks(self, dim: str, lanes: int) -> np.ndarray:
        """Array passes along `dim` with `lanes` lanes on it, per candidate tile (Split.blocks)."""
        key = (dim, lanes)
        if key not in self._blocks:
            self._blocks[key] = _col([s.blocks(lanes) for s in self.splits[dim]], "mkn".index(dim))
        return self._blocks[key]


@lru_cache(maxsize=4096)
def grid_of(view: GemmView) -> _Grid:
    return _Grid(view)


def _footprint(view: GemmView, g: _Grid, operand: str, full: dict[str, bool], elem: int, acc_bytes: int) -> np.ndarray:
    """Bytes an operand holds when the loops over the `full` dims are inside its load point."""
    if operand == "input":
        rows = g.rows_pass if full["m"] else g.rows_tile
        return rows * (view.k_units if full["k"] else g.kc) * elem
    if operand == "weight":
        return ((view.k if full["k"] else g.tk) + view.bias_rows) * (view.n if full["n"] else g.tn) * elem
    return (view.m if full["m"] else g.tm) * (view.n if full["n"] else g.tn) * acc_bytes


@lru_cache(maxsize=65536)
def _passes(view: GemmView, order: tuple[str, str, str], operand: str,
            budget: float, elem: int, acc_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(passes, load depth) of one operand: the outermost fitting depth that saves the most reloads.
    Memoized: it depends on the buffer's budget, not on the array, so design points that share a
    buffer size share it."""
    g = grid_of(view)
    dims = OPERAND_DIMS[operand]
    natural = np.zeros(g.shape)
    for i, d in enumerate(order):
        if d in dims:
            natural = np.where(g.trips[d] > 1, i + 1, natural)
    best = np.full(g.shape, np.inf)
    depth = np.zeros(g.shape)
    reload = np.ones(g.shape)
    for h in range(len(order) + 1):
        if h and order[h - 1] not in dims:
            reload = reload * g.trips[order[h - 1]]
        full = {d: order.index(d) >= h for d in order}
        fits = (_footprint(view, g, operand, full, elem, acc_bytes) <= budget) & (h <= natural)
        candidate = np.where(fits, reload, np.inf)
        take = candidate <= best  # ties go to the deeper load point: same traffic, smaller footprint
        best = np.where(take, candidate, best)
        depth = np.where(take, h, depth)
    return best, depth


def _compute_cycles(g: _Grid, mappings: tuple[ArrayMapping, ...],
                    acc: AcceleratorSpec) -> tuple[np.ndarray, np.ndarray]:
    """(cycles per group, index of the mapping) for each candidate tile: the fastest mapping wins."""
    per_pass = (acc.mac_rows + acc.mac_cols - 2 if acc.systolic else 0) + \
        (acc.mac_rows if acc.weight_load == "serial" else 0)
    options = []
    for mp in mappings:
        cycles = g.blocks("m", mp.m) * g.blocks("k", mp.k) * g.blocks("n", mp.n)
        if per_pass and mp.streamed:
            cycles = cycles + per_pass * array_passes(g, mp)
        options.append(np.broadcast_to(cycles, g.shape))
    stacked = np.stack(options)
    return stacked.min(axis=0), stacked.argmin(axis=0)


def array_passes(g: _Grid, mp: ArrayMapping) -> np.ndarray:
    """Passes of a streamed-dim tile through an array block: one fold of the stationary operand each,
    trips of the streamed dim x blocks of the other two dims."""
    a, b = (d for d in ("m", "k", "n") if d != mp.streamed)
    return g.trips[mp.streamed] * g.blocks(a, mp.lanes(a)) * g.blocks(b, mp.lanes(b))


TIME_TOLERANCE = 0.01
"""Schedules within 1% of the fastest count as equally fast; among them the fewest DRAM bytes win.

Why not the fewest bytes outright: on tpu-v1, vgg19's first conv saves 0.3% of its bytes with
whole-image M tiles, which leave room in the accumulators for 10-wide N tiles only: 7x the cycles
on a 256-wide array. A real compiler picks the fast schedule; among fast ones, the frugal one."""

TIE_TOLERANCE = 0.001
"""Among the frugal schedules, times within 0.1% of the best are ties, won by the fewest (largest)
tiles: a memory-bound layer does not take tiny tiles for a 1-cycle gain."""


def _choose(traffic: np.ndarray, total: np.ndarray, n_tiles: np.ndarray) -> int | None:
    """Index of the chosen schedule: fastest (within TIME_TOLERANCE), then fewest DRAM bytes, then fewest tiles."""
    total = np.where(np.isfinite(traffic), total, np.inf)
    fastest = total.min()
    if not math.isfinite(fastest):
        return None
    ok = total <= fastest * (1 + TIME_TOLERANCE)
    ok &= traffic == traffic[ok].min()
    ok &= total <= total[ok].min() * (1 + TIE_TOLERANCE)
    candidates = np.flatnonzero(ok)
    return int(candidates[np.lexsort((total[candidates], n_tiles[candidates]))[0]])


def plan_gemm(view: GemmView, acc: AcceleratorSpec, dtype: str) -> GemmPlan:
    """The best schedule of a GEMM view on `acc`, memoized on what the schedule depends on: layers of
    the same shape search once, and so do sweep points that differ only in energy figures, or in clock
    and DRAM bandwidth by the same factor (the search sees bytes per cycle)."""
    tiling = dataclasses.replace(acc, energy=None, clock_hz=1.0, dram_bandwidth=acc.dram_bandwidth / acc.clock_hz)
    return _plan(view, tiling, dtype)


@lru_cache(maxsize=8192)
def _plan(view: GemmView, acc: AcceleratorSpec, dtype: str) -> GemmPlan:
    dataflow = get_dataflow(acc.dataflow)
    mappings = dataflow.mappings(acc.mac_rows, acc.mac_cols, acc.systolic)
    g = grid_of(view)
    elem = dtype_bytes(dtype)
    share = 2 if acc.double_buffering else 1
    budgets = {"input": acc.input_buffer_bytes / share, "weight": acc.weight_buffer_bytes / share,
               "output": acc.output_buffer_bytes / share}
    compute, mapping_index = _compute_cycles(g, mappings, acc)
    groups = view.groups
    a_pass = g.rows_pass * view.k_units * elem
    b_pass = (view.k + view.bias_rows) * view.n * elem
    out_bytes = view.m * view.n * elem
    prologue = g.rows_tile * g.kc * elem + (g.tk + view.bias_rows) * g.tn * elem
    epilogue = g.tm * g.tn * elem
    n_tiles = g.trips["m"] * g.trips["k"] * g.trips["n"]
    tile_compute = compute / n_tiles

    acc_bytes = acc.accumulator_bytes
    per_order = []
    for order in dataflow.loop_orders:
        found = {op: _passes(view, order, op, budgets[op], elem, acc_bytes) for op in OPERANDS}
        psum = (found["output"][0] - 1) * view.m * view.n * acc_bytes * 2
        traffic = groups * (found["input"][0] * a_pass + found["weight"][0] * b_pass + out_bytes + psum)
        total = overlapped_cycles(groups * compute, memory_cycles(traffic, acc), memory_cycles(prologue, acc),
                                  memory_cycles(epilogue, acc), tile_compute, acc.double_buffering)
        per_order.append((order, found, psum, traffic, total))
    flat = lambda arr: np.broadcast_to(arr, g.shape).ravel()  # noqa: E731
    choice = _choose(np.concatenate([flat(t[3]) for t in per_order]),
                     np.concatenate([flat(t[4]) for t in per_order]),
                     np.concatenate([flat(n_tiles) for _ in per_order]))
    if choice is None:
        raise PerfmodelError(f"GEMM {view.describe()}: even the smallest tiles do not fit the buffers "
                             f"(input {acc.input_buffer_bytes} B, weight {acc.weight_buffer_bytes} B, "
                             f"output {acc.output_buffer_bytes} B)")
    order, found, psum, _, _ = per_order[choice // math.prod(g.shape)]
    index = choice % math.prod(g.shape)
    i, j, k = np.unravel_index(index, g.shape)
    pick = lambda arr: float(np.broadcast_to(arr, g.shape)[i, j, k])  # noqa: E731
    passes = tuple(int(pick(found[op][0])) for op in OPERANDS)
    levels = tuple(int(pick(found[op][1])) for op in OPERANDS)
    held = [pick(_footprint(view, g, op, {d: order.index(d) >= h for d in order}, elem, acc_bytes))
            for op, h in zip(OPERANDS, levels)]
    held[2] = held[2] / acc_bytes * elem  # the output is stored at the dtype's width
    schedule = LayerSchedule(
        gemm=view.describe(), m_tile=view.m_tiles[i].label, tm=int(pick(g.tm)), tk=int(pick(g.tk)),
        tn=int(pick(g.tn)), trips=(int(pick(g.trips["m"])), int(pick(g.trips["k"])), int(pick(g.trips["n"]))),
        loop_order=order, passes=passes, load_levels=levels, load_bytes=tuple(int(b) for b in held),
        mapping=mappings[int(mapping_index[i, j, k])].label, psum_spill=passes[2] > 1, groups=groups,
        dims=(view.m, view.k, view.n), accumulator_bytes=acc_bytes,
    )
    traffic = Traffic(input=groups * passes[0] * pick(a_pass), weight=groups * passes[1] * b_pass,
                      output=groups * out_bytes, psum=groups * pick(psum))
    return GemmPlan(schedule, traffic, groups * pick(compute), pick(prologue), pick(epilogue), pick(tile_compute))
