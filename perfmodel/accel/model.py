"""`simulate(cost, spec)`: a whole model on an accelerator, layer by layer, from the analyzer's records."""

from __future__ import annotations

from perfmodel.accel.cost import idle_layer, layer_result, vector_layer
from perfmodel.accel.gemm_view import gemm_view
from perfmodel.accel.results import AccelResult, LayerResult
from perfmodel.accel.tiling import plan_gemm
from perfmodel.errors import PerfmodelError
from perfmodel.hardware import AcceleratorSpec, HardwareSpec
from perfmodel.record import LayerCost, ModelCost


def accelerator_of(spec: HardwareSpec) -> AcceleratorSpec:
    """The spec's [accelerator] section; PerfmodelError for a processor spec."""
    if spec.accelerator is None:
        raise PerfmodelError(f"hardware {spec.name!r} has no [accelerator] section (a CPU/GPU spec): the "
                             f"accelerator model needs one; use it as --baseline instead")
    return spec.accelerator


def native_cost(cost: ModelCost, acc: AcceleratorSpec, hardware: str) -> tuple[ModelCost, tuple[str, ...]]:
    """The model in a dtype the array runs: its own if supported, else the array's native dtype (noted)."""
    if cost.dtype in acc.dtypes:
        return cost, ()
    note = f"{hardware} has no {cost.dtype} MACs: the model runs in its native {acc.dtype}"
    return cost.with_dtype(acc.dtype), (note,)


def simulate_layer(layer: LayerCost, acc: AcceleratorSpec) -> LayerResult:
    """One layer: conv/FC tiled onto the array, element-wise work on the vector lanes, views free."""
    if not layer.supported or layer.is_view:
        return idle_layer(layer, acc)
    view = gemm_view(layer)
    if view is None:
        return vector_layer(layer, acc)
    plan = plan_gemm(view, acc, layer.dtype)
    return layer_result(layer, acc, "gemm", plan.traffic, plan.compute_cycles, plan.prologue_bytes,
                        plan.epilogue_bytes, plan.tile_compute_cycles, plan.schedule)


def simulate(cost: ModelCost, spec: HardwareSpec) -> AccelResult:
    """The model on `spec`'s accelerator: per-layer tiling, DRAM traffic, cycles, time, bound."""
    acc = accelerator_of(spec)
    cost, notes = native_cost(cost, acc, spec.name)
    layers = tuple(simulate_layer(layer, acc) for layer in cost.layers)
    if cost.unsupported_ops:
        notes += (f"no cost rule for {', '.join(cost.unsupported_ops)}: those layers are not counted",)
    return AccelResult(model=cost.model, hardware=spec.name, dtype=cost.dtype, macs_per_cycle=acc.macs_per_cycle,
                       clock_hz=acc.clock_hz, double_buffering=acc.double_buffering, layers=layers, notes=notes,
                       fusion=cost.fusion)
