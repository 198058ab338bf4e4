"""Control flow (ONNX If, Loop, Scan): the op itself does no arithmetic; its cost is its subgraphs'.

The walk walks each subgraph as a graph of its own and combines their costs (perfmodel.control_flow:
If the costlier branch, Loop and Scan the body times a static trip count).
"""

from __future__ import annotations

from perfmodel.ops import CONTROL, Cost, Node, rule


@rule("If", "Loop", "Scan", kind=CONTROL)
def control(node: Node) -> Cost:
    """0 MACs, 0 FLOPs of its own (choosing a branch, counting iterations)."""
    return Cost()
