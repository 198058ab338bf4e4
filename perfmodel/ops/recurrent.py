"""Recurrent layers (ONNX RNN, GRU, LSTM): per time step and direction, gate GEMMs on the input and on
the hidden state, then the gates' element-wise work.

X is [seq, batch, input] (layout=0; [batch, seq, input] with layout=1), W [dirs, gates x hidden,
input], R [dirs, gates x hidden, hidden], B [dirs, 2 x gates x hidden]. With gates = 1 (RNN), 3 (GRU),
4 (LSTM):
    MACs  = seq x dirs x batch x gates x hidden x (input + hidden)
    FLOPs = 2 MACs + seq x dirs x batch x hidden x (element-wise FLOPs per hidden unit, below)
Element-wise per hidden unit and step, each add/multiply 1 FLOP, a sigmoid 4 and a tanh 1 (the
convention of perfmodel.ops.elementwise): RNN 2 bias adds + tanh = 3; GRU 6 bias adds + 2 sigmoids (8)
+ tanh + r*(..) + (1-z)*h~ + z*h (4) = 19; LSTM 8 bias adds + 3 sigmoids (12) + 2 tanh + f*c + i*g + add
+ o*tanh(c) (4) = 26. Peepholes (LSTM's P) and clipping are left out (< 1% of the work).
"""

from __future__ import annotations

from perfmodel.ops import MAC, Cost, GemmDims, Node, rule

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
ELEMENTWISE_PER_UNIT = {"RNN": 3, "GRU": 19, "LSTM": 26}


def _check(node: Node) -> str | None:
    x, w, r = node.inputs[0], node.inputs[1], node.inputs[2]
    hidden = node.attrs.get("hidden_size")
    gates = GATES[node.op_type]
    if len(x) != 3 or len(w) != 3 or len(r) != 3:
        return "X, W and R must be 3-D"
    if hidden is not None and (w[1] != gates * hidden or r[1] != gates * hidden):
        return f"W and R must have {gates} x hidden_size = {gates * hidden} rows, got {w[1]} and {r[1]}"
    return None


@rule("RNN", "GRU", "LSTM", kind=MAC, weights=(1, 2, 3, 7), check=_check)
def recurrent(node: Node) -> Cost:
    """seq x dirs x batch x gates x hidden x (input + hidden) MACs, plus the gates' element-wise work."""
    x, w, r = node.inputs[0], node.inputs[1], node.inputs[2]
    seq, batch = (x[1], x[0]) if node.attrs.get("layout", 0) else (x[0], x[1])
    dirs, rows, inp = w
    hidden = r[2]
    steps = seq * dirs
    macs = steps * batch * rows * (inp + hidden)
    flops = 2 * macs + steps * batch * hidden * ELEMENTWISE_PER_UNIT[node.op_type]
    # as GEMMs for the accelerator: per step and direction, [batch x (input + hidden)] @ [(input + hidden) x rows]
    gemm = GemmDims(m=batch, k=inp + hidden, n=rows, groups=steps, weight_input=1)
    return Cost(macs, flops, None, gemm)
