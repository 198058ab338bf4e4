"""Training-step what-if: FLOPs of forward + backward + optimizer update, and the memory a step holds.

Backward rules, per op family (FLOPs of the layer's backward pass):

* conv/FC (Conv, ConvTranspose, Gemm, MatMul with a stored weight): input gradient dX = dY x W^T and
  weight gradient dW = X^T x dY each cost the forward MACs, 2 FLOPs per MAC, so the step is 3x the
  forward FLOPs. Bias gradients (a sum of dY) are not counted, as the forward rule folds bias adds in.
  A MatMul of two activations needs two input gradients (2 x 2 x MACs).
* the first layer with weights needs no input gradient (the data is not trained): it is SKIPPED, so
  that layer costs 2x forward, and layers scheduled before it have no backward at all.
* element-wise, pooling, normalization, reduce, resize: backward ~ forward FLOPs (ASSUMPTION: one
  pass over dY of the same work per element; BatchNorm's backward is underestimated by this).
* views (Reshape, Flatten, ...) and copies (Concat, Split, ...): 0 FLOPs (they only route dY).
* unsupported ops: unknown, counted as 0 and listed by the record's `unsupported_ops`.

Optimizer update FLOPs per trainable parameter (element-wise, no weight decay):

* sgd: w -= lr g                                             -> 2 (mul, sub)
* sgd-momentum: v = mu v + g; w -= lr v                      -> 4 (mul, add; mul, sub)
* adam: m = b1 m + (1-b1) g (3); v = b2 v + (1-b2) g^2 (4);
  w -= lr_t m / (sqrt(v) + eps) (5: sqrt, add, div, mul, sub) -> 12 (bias corrections fold into
  the scalar lr_t once per step)

Memory of a step: weights (all params and buffers at the compute dtype), gradients (trainable params
at the compute dtype), optimizer state in fp32 (momentum 1x params, Adam 2x params), an fp32 master
copy of the trainable params under mixed precision (fp16/bf16), and the activations kept for
backward: RULE every layer output except views (they share storage), plus the model input (the
first layer's weight gradient reads it), at the compute dtype, for the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfmodel.errors import PerfmodelError
from perfmodel.ops import MAC, MOVEMENT
from perfmodel.record import LayerCost, ModelCost, dtype_bytes
from perfmodel.whatif.mac_layers import first_trainable_index, has_weight_matrix

OPTIMIZER_FLOPS_PER_PARAM = {"sgd": 2, "sgd-momentum": 4, "adam": 12}
OPTIMIZER_STATE_PER_PARAM = {"sgd": 0, "sgd-momentum": 1, "adam": 2}
OPTIMIZER_STATE_DTYPE = "fp32"
MASTER_DTYPE = "fp32"
MIXED_DTYPES = ("fp16", "bf16")


@dataclass(frozen=True)
class LayerTraining:
    """FLOPs of one layer in a training step."""

    name: str
    op_type: str
    forward_flops: int
    input_grad_flops: int
    weight_grad_flops: int
    rule: str  # which backward rule applied

    @property
    def backward_flops(self) -> int:
        return self.input_grad_flops + self.weight_grad_flops

    @property
    def step_flops(self) -> int:
        return self.forward_flops + self.backward_flops


def layer_training(layer: LayerCost, needs_backward: bool, needs_input_grad: bool) -> LayerTraining:
    """Forward and backward FLOPs of one layer under the rules of this module's docstring."""
    base = dict(name=layer.name, op_type=layer.op_type, forward_flops=layer.flops)
    if not layer.supported:
        return LayerTraining(**base, input_grad_flops=0, weight_grad_flops=0, rule="unknown (unsupported op)")
    if not needs_backward:
        return LayerTraining(**base, input_grad_flops=0, weight_grad_flops=0, rule="before first trainable layer")
    if layer.kind == MAC:
        one = 2 * layer.macs  # dX or dW: the forward MACs again, 2 FLOPs each
        weighted = has_weight_matrix(layer)
        input_grads = (1 if weighted else 2) if needs_input_grad else 0
        rule = "dX + dW = 2 x forward" if needs_input_grad else "dW only (first trainable layer)"
        return LayerTraining(**base, input_grad_flops=input_grads * one, weight_grad_flops=one if weighted else 0,
                             rule=rule if weighted else "dA + dB = 2 x forward")
    if layer.is_view or (layer.kind == MOVEMENT and not layer.flops):  # data movement routes dY
        return LayerTraining(**base, input_grad_flops=0, weight_grad_flops=0, rule="routes dY: 0 FLOPs")
    return LayerTraining(**base, input_grad_flops=layer.flops, weight_grad_flops=0, rule="~ forward (assumed)")


def training_layers(cost: ModelCost) -> list[LayerTraining]:
    first = first_trainable_index(cost)
    first = len(cost.layers) if first is None else first
    return [layer_training(layer, needs_backward=i >= first, needs_input_grad=i > first)
            for i, layer in enumerate(cost.layers)]


def optimizer_flops(params: int, optimizer: str) -> int:
    """Update FLOPs = params x per-parameter FLOPs of the optimizer (see the module docstring)."""
    return params * OPTIMIZER_FLOPS_PER_PARAM[_check_optimizer(optimizer)]


def master_weight_bytes(cost: ModelCost) -> float:
    """Mixed precision keeps an fp32 master copy of the trainable params: params x 4 B (0 at fp32)."""
    return cost.params * dtype_bytes(MASTER_DTYPE) if cost.dtype in MIXED_DTYPES else 0.0


def mixed_precision_weight_bytes(cost: ModelCost) -> float:
    """Weights at the compute dtype + fp32 master copy: (params + buffers) x dtype B + params x 4 B."""
    return cost.weight_bytes + master_weight_bytes(cost)


def kept_activation_elems(cost: ModelCost) -> int:
    """Elements saved for backward: every non-view layer output plus the model input."""
    return cost.input_elems + sum(layer.activations for layer in cost.layers if not layer.is_view)


def _check_optimizer(optimizer: str) -> str:
    if optimizer not in OPTIMIZER_FLOPS_PER_PARAM:
        raise PerfmodelError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZER_FLOPS_PER_PARAM)}")
    return optimizer


@dataclass(frozen=True)
class TrainingCost:
    """One training step (forward, backward, update) of a model at its record's batch and dtype."""

    model: str
    dtype: str
    optimizer: str
    mixed_precision: bool
    layers: tuple[LayerTraining, ...]
    forward_flops: int
    backward_flops: int
    optimizer_flops: int
    weight_bytes: float
    gradient_bytes: float
    optimizer_state_bytes: float
    master_weight_bytes: float
    activation_bytes: float

    @property
    def step_flops(self) -> int:
        return self.forward_flops + self.backward_flops + self.optimizer_flops

    @property
    def memory_bytes(self) -> float:
        return (self.weight_bytes + self.gradient_bytes + self.optimizer_state_bytes + self.master_weight_bytes
                + self.activation_bytes)


def training_cost(cost: ModelCost, optimizer: str = "sgd-momentum") -> TrainingCost:
    """FLOPs and memory of one training step; fp16/bf16 records are read as mixed precision."""
    _check_optimizer(optimizer)
    if cost.dtype not in ("fp32", *MIXED_DTYPES):
        raise PerfmodelError(f"training at {cost.dtype} is not modelled; use fp32, fp16 or bf16")
    layers = training_layers(cost)
    value = dtype_bytes(cost.dtype)
    return TrainingCost(
        model=cost.model, dtype=cost.dtype, optimizer=optimizer, mixed_precision=cost.dtype in MIXED_DTYPES,
        layers=tuple(layers),
        forward_flops=sum(l.forward_flops for l in layers),
        backward_flops=sum(l.backward_flops for l in layers),
        optimizer_flops=optimizer_flops(cost.params, optimizer),
        weight_bytes=cost.weight_bytes,
        gradient_bytes=cost.params * value,
        optimizer_state_bytes=cost.params * OPTIMIZER_STATE_PER_PARAM[optimizer] * dtype_bytes(OPTIMIZER_STATE_DTYPE),
        master_weight_bytes=master_weight_bytes(cost),
        activation_bytes=kept_activation_elems(cost) * value,
    )
