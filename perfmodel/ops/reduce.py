"""Reductions (ReduceMean, ReduceSum, ...): one operation per input element."""

from __future__ import annotations

from perfmodel.ops import REDUCTION, Cost, Node, numel, rule

REDUCE_OPS = ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSumExp", "ArgMax", "ArgMin")


@rule(*REDUCE_OPS, kind=REDUCTION)
def reduce(node: Node) -> Cost:
    """One add/compare per input element; squaring or abs variants are within this rounding."""
    return Cost(0, numel(node.inputs[0]))
