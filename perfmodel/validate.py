"""Validation: the roofline against measured kernel times, and a calibrated model fitted on some layers.

The pure roofline bound `max(F/P, B/W)` is a ceiling no real kernel reaches; how far each layer falls
short depends on the kernel. The calibrated model keeps the roofline's two terms and learns, per op
class (conv; fc = Gemm/MatMul), how many seconds each roofline-second really costs:

    time = a x F/P + b x B/W          a, b >= 0, one pair per op class

Read as an efficiency, F/P / time = 1 / (a + b x ridge / I) with I = F/B the layer's intensity and
ridge = P/W: it rises with intensity and saturates at 1/a, the fraction of peak the class's kernels
reach on compute-heavy layers; 1/b is the fraction of bandwidth they reach on memory-heavy ones.
(The pure roofline takes max(F/P, B/W): full efficiency, perfect overlap. On this project's
kernels, two scales on a sum predicted resnet50's held-out layers better than one on that max.)
a and b minimise the squared *relative* error, the figure that is scored, over the fitting shapes:
ordinary least squares of the rows (F/P, B/W) / t_measured against 1, in numpy. With fewer than
three fitting shapes, or when a coefficient comes out negative, the class keeps one efficiency on
the term that bounds it (exact for a single shape).

Fitting and scoring never share a layer. Identical layers (same op, shapes and attributes) are one
*shape*, measured once. Per class, shapes are sorted by their roofline time and every other one,
starting with the smallest, is used for fitting; the others are held out. The fit then spans the range
of layer sizes and held-out shapes lie between fitted ones (all but the largest when a class has an
even count). The score (median and 90th percentile
of |error| = |pred - meas| / meas) counts every held-out *layer*, so a shape used four times in a model
counts four times, as it does in the model's run time.

Measuring needs the numba kernels (`kernels.dispatch.make_runner`), imported only when measuring:
`import perfmodel.validate` stays free of numba. `validate` takes the timing function as an
argument, so the fit and the score are tested with synthetic times. How the kernels are timed
(rounds, median): `kernel_timer`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from perfmodel import ops
from perfmodel.errors import PerfmodelError
from perfmodel.record import LayerCost
from perfmodel.roofline import LayerPrediction, RooflinePrediction

OP_CLASSES: dict[str, tuple[str, ...]] = {  # each fitted apart; from the registry's MAC ops
    "conv": tuple(op for op in ops.op_types(ops.MAC) if ops.lookup(op).spatial),
    "fc": tuple(op for op in ops.op_types(ops.MAC) if not ops.lookup(op).spatial),
}
QUICK_SHAPES = 4  # distinct shapes per class kept by --quick: the smallest, so it runs in seconds
TARGET_MEDIAN = 0.15  # the target: median |error| <= 15% ...
TARGET_WITHIN, TARGET_SHARE = 0.30, 0.90  # ... and 90% of the held-out layers within 30%

STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {"median": statistics.median, "min": min}

Progress = Callable[[str], None]
TimeLayers = Callable[[Sequence[LayerCost], Progress], list[float | None]]  # seconds each; None: no kernel


# --------------------------------------------------------------------------------------------------
# Shapes: layers that run the same kernel on the same sizes


@dataclass(frozen=True)
class Shape:
    """The layers of one op class sharing op, shapes and attributes, and their one measured time."""

    op_class: str
    layers: tuple[LayerPrediction, ...]  # in schedule order; layers[0] is the one measured
    measured_s: float | None = None

    @property
    def compute_s(self) -> float:
        return self.layers[0].compute_s

    @property
    def memory_s(self) -> float:
        return self.layers[0].memory_s

    @property
    def bound_s(self) -> float:
        return self.layers[0].time_s

    def features(self) -> np.ndarray:
        """The calibrated model's terms: (F/P, B/W) in seconds."""
        return np.array([self.compute_s, self.memory_s])


def shape_key(layer: LayerCost) -> tuple:
    """What a kernel's time depends on: op, every shape, attributes, dtype (not the layer's name)."""
    attrs = tuple(sorted((k, repr(v)) for k, v in layer.attributes.items()))
    return (layer.op_type, layer.input_shapes, layer.output_shapes, attrs, layer.dtype)


def op_class(layer: LayerCost) -> str | None:
    return next((name for name, ops in OP_CLASSES.items() if layer.op_type in ops), None)


def distinct_shapes(prediction: RooflinePrediction, classes: Sequence[str]) -> list[Shape]:
    """The distinct shapes of the chosen classes' layers, per class ordered by roofline time."""
    groups: dict[tuple, list[LayerPrediction]] = {}
    for lp in prediction.layers:
        if op_class(lp.layer) in classes and lp.known:
            groups.setdefault(shape_key(lp.layer), []).append(lp)
    shapes = [Shape(op_class(group[0].layer), tuple(group)) for group in groups.values()]
    return sorted(shapes, key=lambda s: (list(OP_CLASSES).index(s.op_class), s.bound_s))


def fitting_shapes(shapes: Sequence[Shape]) -> set[int]:
    """Indices of the fitting shapes: per class, in roofline-time order, the 1st, 3rd, 5th..."""
    chosen, seen = set(), {}
    for index, shape in enumerate(shapes):
        rank = seen.get(shape.op_class, 0)
        seen[shape.op_class] = rank + 1
        if rank % 2 == 0:
            chosen.add(index)
    return chosen


# --------------------------------------------------------------------------------------------------
# The calibrated model


@dataclass(frozen=True)
class ClassFit:
    """time = compute_scale x F/P + memory_scale x B/W for one op class, and what it was fitted on."""

    op_class: str
    compute_scale: float  # a: 1/a = achieved fraction of peak FLOP/s
    memory_scale: float  # b: 1/b = achieved fraction of bandwidth
    fitted_on: tuple[str, ...]  # names of the measured layers of the fitting shapes

    def predict(self, shape: Shape) -> float:
        return float(np.dot([self.compute_scale, self.memory_scale], shape.features()))

    def describe(self) -> str:
        parts = [f"{1 / scale:.1%} of {what}" for scale, what in
                 ((self.compute_scale, "peak FLOP/s"), (self.memory_scale, "bandwidth")) if scale > 0]
        return " + ".join(parts)


def fit_class(op_class_name: str, shapes: Sequence[Shape]) -> ClassFit:
    """Least squares on relative error: minimise sum(((a, b) . x_i - t_i) / t_i)^2 over the shapes.

    Both terms when there are three shapes or more and both coefficients come out positive;
    otherwise one efficiency on the term that bounds the class (the larger of F/P and B/W summed
    over the shapes), which is exact for a single shape.
    """
    if not shapes:
        raise ValueError(f"no shapes to fit for class {op_class_name!r}")
    x = np.array([s.features() for s in shapes])
    t = np.array([s.measured_s for s in shapes])
    rows, ones = x / t[:, None], np.ones(len(shapes))
    coef = np.zeros(2)
    if len(shapes) >= 3:
        coef, *_ = np.linalg.lstsq(rows, ones, rcond=None)
    if len(shapes) < 3 or (coef <= 0).any():
        term = int(np.argmax(x.sum(axis=0)))
        coef = np.zeros(2)
        coef[term] = np.sum(rows[:, term]) / np.sum(rows[:, term] ** 2)  # 1-D least squares
    names = tuple(s.layers[0].layer.name for s in shapes)
    return ClassFit(op_class_name, float(coef[0]), float(coef[1]), names)


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class LayerCheck:
    """One layer: the pure roofline bound, the calibrated prediction, the measured time."""

    layer: LayerCost
    op_class: str
    bound_s: float
    predicted_s: float
    measured_s: float
    fitted: bool  # its shape was used for fitting, so it is not scored

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return (self.predicted_s - self.measured_s) / self.measured_s

    @property
    def efficiency(self) -> float:
        """Fraction of the roofline reached: bound / measured."""
        return self.bound_s / self.measured_s


@dataclass(frozen=True)
class Validation:
    model: str
    hw: str
    dtype: str
    batch: int
    checks: tuple[LayerCheck, ...]  # every layer of the chosen classes, in schedule order
    fits: Mapping[str, ClassFit]
    skipped: tuple[str, ...] = ()  # layers whose shape has no kernel (make_runner: NotImplementedError)

    @property
    def held_out(self) -> tuple[LayerCheck, ...]:
        return tuple(c for c in self.checks if not c.fitted)

    def abs_errors(self) -> np.ndarray:
        return np.array([abs(c.error) for c in self.held_out])

    @property
    def median_abs_error(self) -> float | None:
        errors = self.abs_errors()
        return float(np.median(errors)) if errors.size else None

    @property
    def p90_abs_error(self) -> float | None:
        """90th percentile of |error| over the held-out layers (numpy's linear interpolation)."""
        errors = self.abs_errors()
        return float(np.percentile(errors, 90)) if errors.size else None

    @property
    def share_within(self) -> float | None:
        """Fraction of held-out layers with |error| <= 30%."""
        errors = self.abs_errors()
        return float(np.mean(errors <= TARGET_WITHIN)) if errors.size else None

    @property
    def target_met(self) -> bool | None:
        if self.median_abs_error is None:
            return None
        return self.median_abs_error <= TARGET_MEDIAN and self.share_within >= TARGET_SHARE


def validate(prediction: RooflinePrediction, time_layers: TimeLayers, classes: Sequence[str] = tuple(OP_CLASSES),
             quick: bool = False, progress: Progress = lambda msg: None) -> Validation:
    """Time each distinct shape once, fit every class on its fitting shapes, check every layer."""
    shapes = distinct_shapes(prediction, classes)
    if quick:  # the few smallest shapes of each class
        shapes = [shape for cls in classes for shape in [s for s in shapes if s.op_class == cls][:QUICK_SHAPES]]
    if not shapes:
        raise PerfmodelError(f"{prediction.model} has no {'/'.join(classes)} layers to validate")
    times = time_layers([s.layers[0].layer for s in shapes], progress)
    measured = [Shape(s.op_class, s.layers, t) for s, t in zip(shapes, times) if t is not None]
    skipped = tuple(lp.layer.name for s, t in zip(shapes, times) if t is None for lp in s.layers)
    if not measured:
        raise PerfmodelError(f"no {'/'.join(classes)} layer of {prediction.model} has a kernel to time")
    fit_set = fitting_shapes(measured)
    fits = {cls: fit_class(cls, [s for i, s in enumerate(measured) if i in fit_set and s.op_class == cls])
            for cls in classes if any(s.op_class == cls for s in measured)}
    checks = [LayerCheck(lp.layer, s.op_class, lp.time_s, fits[s.op_class].predict(s), s.measured_s, i in fit_set)
              for i, s in enumerate(measured) for lp in s.layers]
    order = {id(lp.layer): n for n, lp in enumerate(prediction.layers)}
    checks.sort(key=lambda c: order[id(c.layer)])
    return Validation(prediction.model, prediction.hw.name, prediction.dtype, prediction.batch, tuple(checks), fits,
                      skipped)


# --------------------------------------------------------------------------------------------------
# Timing the project's kernels


def kernel_timer(repeats: int, threads: int | None = None, statistic: str = "median") -> TimeLayers:
    """Time layers with `kernels.dispatch.make_runner`: every runner is built and warmed up (JIT
    compiled) first, then `repeats` rounds each run every layer once; a layer's time is the median
    (or the min: `statistic`) of its rounds.

    Rounds rather than back-to-back repeats: a burst of load from other processes then hits every
    layer alike instead of one layer's whole sample, and each run finds the caches as a forward pass
    leaves them (holding other layers' data), not warm with its own weights from the run before.
    `threads` sets numba's thread count for the runs (default: numba's, all cores). The median is
    the typical time; the min comes closest to the kernel alone, the steadier figure on a machine
    shared with other jobs (their load only ever adds time).
    """
    pick = STATISTICS[statistic]
    try:
        from kernels.dispatch import make_runner
    except ImportError as exc:
        raise PerfmodelError(f"validate needs the numba kernels (kernels.dispatch), which do not import: {exc}") \
            from None
    import numba

    if threads is not None and not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise PerfmodelError(f"--threads must be between 1 and {numba.config.NUMBA_NUM_THREADS}, got {threads}")

    def time_layers(layers: Sequence[LayerCost], progress: Progress) -> list[float | None]:
        if threads is not None:
            numba.set_num_threads(threads)
        runners: list[Callable[[], object] | None] = []
        for k, layer in enumerate(layers, 1):
            progress(f"layer {k}/{len(layers)}: {layer.name} ({layer.op_type}) compile and warm up")
            try:
                runner = make_runner(layer)
            except NotImplementedError as exc:
                progress(f"layer {k}/{len(layers)}: {layer.name} skipped: {exc}")
                runners.append(None)
                continue
            runner.warmup()
            runners.append(runner)
        samples: list[list[float]] = [[] for _ in layers]
        for r in range(1, repeats + 1):
            progress(f"round {r}/{repeats}: running the {len(layers)} layers once each")
            for sample, runner in zip(samples, runners):
                if runner is not None:
                    start = time.perf_counter()
                    runner()
                    sample.append(time.perf_counter() - start)
        return [pick(sample) if sample else None for sample in samples]

    return time_layers


def parse_classes(text: str) -> tuple[str, ...]:
    """'conv,fc' -> ('conv', 'fc'); PerfmodelError naming the choices for anything else."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in OP_CLASSES]
    if bad or not names:
        raise PerfmodelError(f"--layers {text!r}: choose from {', '.join(OP_CLASSES)} (comma-separated)")
    return names


def report_rows(validation: Validation) -> Iterable[dict]:
    """One dict per layer (JSON and tables read the same figures)."""
    for c in validation.checks:
        yield {"name": c.layer.name, "op_type": c.layer.op_type, "class": c.op_class,
               "role": "fit" if c.fitted else "held-out", "bound_s": c.bound_s, "predicted_s": c.predicted_s,
               "measured_s": c.measured_s, "error": c.error, "efficiency": c.efficiency}


def validation_dict(result) -> dict:
    return {
        "model": result.model, "hw": result.hw, "dtype": result.dtype, "batch": result.batch,
        "fits": {cls: {"compute_scale": f.compute_scale, "memory_scale": f.memory_scale, "fitted_on": list(f.fitted_on)}
                 for cls, f in result.fits.items()},
        "held_out_layers": len(result.held_out),
        "skipped": list(result.skipped),
        "median_abs_error": result.median_abs_error,
        "p90_abs_error": result.p90_abs_error,
        "share_within_30pct": result.share_within,
        "target_met": result.target_met,
        "layers": list(report_rows(result)),
    }
