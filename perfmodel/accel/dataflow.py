"""Dataflows: which operand stays on chip while the others stream, and how the MAC array is mapped.

A dataflow fixes two things the tiling search then works within:
- the tile loop orders it allows (outer -> inner over the GEMM dims m, k, n). Weight-stationary
  keeps a weight tile in the weight buffer while input rows stream past it: m is the innermost
  loop. Output-stationary keeps an output tile accumulating in the output buffer while K streams:
  k is the innermost loop.
- the mapping of GEMM dims onto the array's rows x cols. A systolic array is wired for one
  mapping: weight-stationary holds a K x N weight block (rows <- K, cols <- N, M streams through,
  as the TPU); output-stationary holds an M x N output block (rows <- M, cols <- N, K streams).
  A non-systolic array (adder trees, DianNao-style inner-product units) is ASSUMED reconfigurable:
  any two GEMM dims onto rows x cols, or all rows x cols lanes on one dim (one 256-wide dot
  product); the search takes the mapping with the fewest cycles for each tile.

New dataflows (input-stationary, row-stationary...) are one more `Dataflow` in `DATAFLOWS`: the
spec loader and the tiling search take their names and loop orders from there alone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from perfmodel.errors import PerfmodelError

LOOPS = ("m", "k", "n")

OPERAND_DIMS: dict[str, tuple[str, ...]] = {"input": ("m", "k"), "weight": ("k", "n"), "output": ("m", "n")}
"""The GEMM dims each operand's tiles are indexed by: A[m, k] @ B[k, n] -> C[m, n]."""


@dataclass(frozen=True)
class ArrayMapping:
    """Lanes of the array given to each GEMM dim per cycle (1 = the dim streams, one element a cycle)."""

    m: int
    k: int
    n: int
    label: str

    def lanes(self, dim: str) -> int:
        return getattr(self, dim)

    @property
    def streamed(self) -> str | None:
        """The dim that flows through the array over time (for a systolic array's fill and drain)."""
        ones = [d for d in LOOPS if self.lanes(d) == 1]
        return ones[0] if len(ones) == 1 else None


@dataclass(frozen=True)
class Dataflow:
    name: str
    loop_orders: tuple[tuple[str, str, str], ...]
    systolic_dims: tuple[str, str]  # (rows dim, cols dim) of the systolic mapping
    summary: str

    def mappings(self, rows: int, cols: int, systolic: bool) -> tuple[ArrayMapping, ...]:
        """The array mappings the search may use (see the module docstring)."""
        if systolic:
            return (_mapping({self.systolic_dims[0]: rows, self.systolic_dims[1]: cols},
                             f"rows<-{self.systolic_dims[0].upper()} cols<-{self.systolic_dims[1].upper()}"),)
        found: dict[tuple[int, int, int], ArrayMapping] = {}
        for d_rows, d_cols in itertools.permutations(LOOPS, 2):
            m = _mapping({d_rows: rows, d_cols: cols}, f"rows<-{d_rows.upper()} cols<-{d_cols.upper()}")
            found.setdefault((m.m, m.k, m.n), m)
        for dim in LOOPS:
            m = _mapping({dim: rows * cols}, f"{rows * cols} lanes<-{dim.upper()}")
            found.setdefault((m.m, m.k, m.n), m)
        return tuple(found.values())


def _mapping(lanes: dict[str, int], label: str) -> ArrayMapping:
    return ArrayMapping(m=lanes.get("m", 1), k=lanes.get("k", 1), n=lanes.get("n", 1), label=label)


DATAFLOWS: dict[str, Dataflow] = {
    "weight-stationary": Dataflow(
        "weight-stationary", loop_orders=(("n", "k", "m"), ("k", "n", "m")), systolic_dims=("k", "n"),
        summary="weight tile held on chip, input rows stream (m innermost)"),
    "output-stationary": Dataflow(
        "output-stationary", loop_orders=(("m", "n", "k"), ("n", "m", "k")), systolic_dims=("m", "n"),
        summary="output tile accumulates on chip, K streams (k innermost)"),
}


def get_dataflow(name: str) -> Dataflow:
    try:
        return DATAFLOWS[name]
    except KeyError:
        raise PerfmodelError(f"unknown dataflow {name!r}; choose one of {', '.join(DATAFLOWS)}") from None
