"""Element-wise ops: FLOPs per output element from a table, so each op's count is stated once.

Convention: an exp, log, erf, tanh, sqrt or division counts as 1 FLOP, like an add.
"""

from __future__ import annotations

from perfmodel.ops import ANY_INITIALIZER, ELEMENTWISE, MOVEMENT, NORMALIZATION, Cost, Node, rule

UNARY_FLOPS = {
    "Relu": 1, "Abs": 1, "Neg": 1, "Exp": 1, "Log": 1, "Sqrt": 1, "Reciprocal": 1, "Erf": 1, "Tanh": 1,
    "Sin": 1, "Cos": 1, "Floor": 1, "Ceil": 1, "Round": 1, "Sign": 1, "Not": 1,
    "LeakyRelu": 2,   # compare, multiply
    "Clip": 2,        # max, min
    "Elu": 3,         # compare, exp, fma
    "Softplus": 3,    # log(exp(x) + 1)
    "Sigmoid": 4,     # 1 / (1 + exp(-x)): neg, exp, add, div
    "HardSigmoid": 4,  # max(0, min(1, alpha x + beta))
    "Selu": 4,
    "HardSwish": 5,   # x * HardSigmoid(x)
    "Gelu": 5,        # x/2 (1 + erf(x / sqrt 2))
    "Mish": 6,        # x tanh(softplus(x))
    "Softmax": 5,     # max, subtract, exp, sum, divide
    "LogSoftmax": 5,
}

BINARY_OPS = ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "PRelu", "Where", "Mod")
COMPARISONS = ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor")
"""Their constant operand is a threshold or a flag (`x.mean() > 0`), never a trained weight."""


def _per_element(flops: int):
    def cost(node: Node) -> Cost:
        return Cost(0, flops * node.out_elems)

    return cost


for _op, _flops in UNARY_FLOPS.items():  # Softmax normalizes over an axis: not element-wise
    rule(_op, kind=NORMALIZATION if _op in ("Softmax", "LogSoftmax") else ELEMENTWISE)(_per_element(_flops))


@rule(*BINARY_OPS, kind=ELEMENTWISE, weights=ANY_INITIALIZER)
@rule(*COMPARISONS, kind=ELEMENTWISE)
def binary(node: Node) -> Cost:
    """Broadcasting n-ary op: (inputs - 1) operations per output element (PRelu: compare + multiply)."""
    per_out = 2 if node.op_type == "PRelu" else max(len(node.inputs) - 1, 1)
    return Cost(0, per_out * node.out_elems)


@rule("QuantizeLinear", kind=ELEMENTWISE, buffers=(1, 2))
def quantize(node: Node) -> Cost:
    """y = saturate(round(x / scale) + zero_point): divide, round, add, clip = 4 FLOPs per element."""
    return Cost(0, 4 * node.out_elems)


@rule("DequantizeLinear", kind=ELEMENTWISE, buffers=(1, 2))
def dequantize(node: Node) -> Cost:
    """y = (x - zero_point) x scale: 2 FLOPs per element."""
    return Cost(0, 2 * node.out_elems)


@rule("Cast", "CastLike", kind=MOVEMENT)
def cast(node: Node) -> Cost:
    """A conversion moves data and computes nothing."""
    return Cost(0, 0)
