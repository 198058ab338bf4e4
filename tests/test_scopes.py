"""perfmodel.scopes: hierarchical totals by name scope (analyze --depth N)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from perfmodel.scopes import scope_of, scopes
from perfmodel.walk import analyze_model
from tests.conftest import perfmodel

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name, depth, scope", [
    ("/layer1/layer1.0/conv1/Conv", 1, "/layer1"), ("/layer1/layer1.0/conv1/Conv", 2, "/layer1/layer1.0"),
    ("/layer1/layer1.0/conv1/Conv", 9, "/layer1/layer1.0/conv1"), ("/Relu", 1, "/Relu"),
    ("layer1.0.conv1", 1, "layer1"), ("layer1.0.conv1", 2, "layer1.0"), ("fc", 3, "fc"),
])
def test_scope_of(name: str, depth: int, scope: str) -> None:
    assert scope_of(name, depth) == scope


def test_resnet18_layer1_by_hand() -> None:
    """layer1: two basic blocks, 4 convs of 64x64x3x3 (36,864 each) and 4 BNs of 64 channels
    (128 trainable each); 4 x 115,605,504 MACs."""
    cost = analyze_model("resnet18")
    by = {s.name: s for s in scopes(cost, 1)}
    assert by["layer1"].total("params") == 4 * 36_864 + 4 * 128
    assert by["layer1"].total("macs") == 4 * 115_605_504 and len(by["layer1"].layers) == 14
    for attr in ("params", "macs", "flops", "bytes_read"):
        assert sum(s.total(attr) for s in scopes(cost, 1)) == pytest.approx(sum(
            getattr(layer, attr) for layer in cost.layers))


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_depth_in_every_format(fmt: str) -> None:
    result = perfmodel("analyze", DATA / "small_legacy_op13.onnx", "--batch", "2", "--depth", "1", "--format", fmt)
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        rows = json.loads(result.stdout)["scopes"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
    else:
        assert "scope (depth 1)" in result.stdout and "/layer2" in result.stdout
        return
    assert sum(int(r["macs"]) for r in rows) == 9_011_840  # torch's own count of the export
    assert {r["scope"] for r in rows} >= {"/conv1", "/layer1", "/layer2", "/fc"}
