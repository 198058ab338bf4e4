"""Roofline figures: valid PNG and SVG files, the ceilings and points they should show, the CLI --plot."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image
import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.hardware import CacheLevel, load_spec
from perfmodel.plots import roofline_figure, save_figure
from perfmodel.roofline import predict
from perfmodel.walk import analyze_model
from tests.conftest import perfmodel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def prediction():
    return predict(analyze_model("lenet5"), load_spec("seed-npu"))


def test_png_is_valid_and_reads_back(prediction, tmp_path: Path) -> None:
    path = save_figure(roofline_figure(prediction), tmp_path / "roof.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_svg_parses_as_xml(prediction, tmp_path: Path) -> None:
    path = save_figure(roofline_figure(prediction), tmp_path / "roof.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


def test_figure_shows_roof_points_by_op_and_title(prediction) -> None:
    ax = roofline_figure(prediction).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "lenet5" in ax.get_title() and "seed-npu" in ax.get_title() and "fp32" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    plotted_ops = {lp.layer.op_type for lp in prediction.layers if lp.layer.flops and lp.layer.bytes_total}
    assert plotted_ops <= set(legend) and "Conv" in legend and "Gemm" in legend
    # the roof: flat at the peak (512 GFLOP/s) right of the ridge (8 FLOP/B), 64 GB/s x I left of it
    roof = ax.get_lines()[0]
    x, y = roof.get_xdata(), roof.get_ydata()
    assert y.max() == pytest.approx(512)
    left = x < 8
    assert y[left] == pytest.approx(64 * x[left])


def test_cache_levels_with_a_bandwidth_add_ceilings(prediction) -> None:
    import dataclasses

    hw = dataclasses.replace(prediction.hw, caches=(CacheLevel("L1", 32768, 400e9), CacheLevel("L2", 1 << 20)))
    ax = roofline_figure(dataclasses.replace(prediction, hw=hw)).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("L1") for label in labels)
    assert not any(label.startswith("L2") for label in labels)  # no bandwidth, no ceiling


def test_save_rejects_other_formats(prediction, tmp_path: Path) -> None:
    with pytest.raises(PerfmodelError, match=".png or .svg"):
        save_figure(roofline_figure(prediction), tmp_path / "roof.pdf")


@pytest.mark.parametrize("name", ["roof.png", "roof.svg"])
def test_cli_plot_writes_the_file_headless(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    result = perfmodel("roofline", "lenet5", "--hw", "seed-npu", "--plot", out)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1000 and f"wrote {out}" in result.stderr
    if name.endswith(".png"):
        assert out.read_bytes()[:8] == PNG_MAGIC
    else:
        ET.parse(out)


def test_plot_module_needs_no_display() -> None:
    # No DISPLAY and an interactive default backend requested: the figure still renders (Agg canvas).
    code = ("import os; os.environ.pop('DISPLAY', None); os.environ['MPLBACKEND'] = 'TkAgg';"
            "from perfmodel.plots import roofline_figure; from perfmodel.roofline import predict;"
            "from perfmodel.walk import analyze_model; from perfmodel.hardware import load_spec;"
            "import io; f = roofline_figure(predict(analyze_model('lenet5'), load_spec('a100')));"
            "b = io.BytesIO(); f.savefig(b, format='png'); print(b.getvalue()[:4])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "PNG" in result.stdout, result.stderr
