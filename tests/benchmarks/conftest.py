"""Options and layer selection for the kernel benchmarks (tests/benchmarks/test_kernels_bench.py).

    --models alexnet,vgg16,resnet50   zoo models whose conv and FC layers are benchmarked
    --batch 1[,8,...]                 batch sizes
    --bench-set quick|full            quick: per model the smallest distinct conv and FC (CI, seconds);
                                      full: every distinct conv and FC shape.
                                      Default: full when benchmarking is enabled, quick when it is
                                      disabled (plain `pytest`, whose addopts say --benchmark-disable,
                                      runs each benchmark once as a smoke test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

DEFAULT_MODELS = "alexnet,vgg16,resnet50"
BENCH_OPS = ("Conv", "Gemm", "MatMul")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kernel benchmarks")
    group.addoption("--models", default=DEFAULT_MODELS,
                    help=f"comma-separated zoo models to take conv/FC shapes from (default {DEFAULT_MODELS})")
    group.addoption("--batch", default="1", help="comma-separated batch sizes (default 1)")
    group.addoption("--bench-set", choices=("quick", "full"), default=None,
                    help="quick: a few shapes; full: every distinct conv/FC shape "
                         "(default: full if benchmarking is enabled, else quick)")


@dataclass
class BenchLayer:
    """A distinct layer shape and every (model, layer) that has it."""

    model: str
    batch: int
    layer: object
    also: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        shapes = "x".join(str(d) for d in self.layer.input_shapes[0])
        return f"{self.model}-b{self.batch}-{self.layer.name}-{self.layer.op_type}-{shapes}"


def shape_key(layer: object) -> tuple:
    """Two layers with equal keys run the same kernel on the same shapes."""
    attrs = tuple(sorted((k, repr(v)) for k, v in dict(layer.attributes).items()))
    return (layer.op_type, tuple(map(tuple, layer.input_shapes)), attrs)


def distinct_layers(models: list[str], batches: list[int]) -> list[BenchLayer]:
    """Distinct conv/FC shapes of the models (first occurrence keeps its name), via perfmodel's walk."""
    from models_onnx import build
    from perfmodel.walk import analyze_model

    seen: dict[tuple, BenchLayer] = {}
    for batch in batches:
        for model in models:
            for layer in analyze_model(build(model, weights="none", batch=batch)).layers:
                if layer.op_type not in BENCH_OPS:
                    continue
                key = shape_key(layer)
                if key in seen:
                    seen[key].also.append(f"{model}:{layer.name}")
                else:
                    seen[key] = BenchLayer(model, batch, layer)
    return list(seen.values())


def quick_subset(layers: list[BenchLayer]) -> list[BenchLayer]:
    """Per batch: each model's distinct conv with the fewest MACs, and the smallest distinct FC."""
    picked: dict[tuple, BenchLayer] = {}
    for bl in layers:
        key = (bl.batch, bl.model) if bl.layer.op_type == "Conv" else (bl.batch, "fc")
        if key not in picked or bl.layer.macs < picked[key].layer.macs:
            picked[key] = bl
    chosen = {id(bl) for bl in picked.values()}
    return [bl for bl in layers if id(bl) in chosen]


def benchmarking_enabled(config: pytest.Config) -> bool:
    """pytest-benchmark's rule: --benchmark-enable wins over --benchmark-disable (pyproject's addopts)."""
    return bool(config.getoption("benchmark_enable", False)) or not config.getoption("benchmark_disable", False)


def _selected(config: pytest.Config) -> list[BenchLayer]:
    models = [m.strip() for m in config.getoption("--models").split(",") if m.strip()]
    batches = [int(b) for b in config.getoption("--batch").split(",") if b.strip()]
    bench_set = config.getoption("--bench-set")
    if bench_set is None:
        bench_set = "full" if benchmarking_enabled(config) else "quick"
    layers = distinct_layers(models, batches)
    return quick_subset(layers) if bench_set == "quick" else layers


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_layer" not in metafunc.fixturenames:
        return
    try:
        layers = _selected(metafunc.config)
    except ImportError as exc:  # the zoo or the walk is missing: say so instead of an import error
        metafunc.parametrize("bench_layer", [pytest.param(None, marks=pytest.mark.skip(reason=str(exc)))])
        return
    metafunc.parametrize("bench_layer", layers, ids=[bl.id for bl in layers])
