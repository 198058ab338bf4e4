"""The report end to end: files written, JSON complete and equal to the records, tables present,
HTML standalone with images that decode (always with matplotlib/XML; in a headless browser when one
is installed)."""

from __future__ import annotations

import base64
import io
import json
import re
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from perfmodel.hardware import load_spec
from perfmodel.accel import simulate
from perfmodel.report.build import ReportOptions, build_report
from perfmodel.report.document import SECTIONS
from tests.conftest import perfmodel
from perfmodel.roofline import predict
from perfmodel.walk import analyze_model

MODELS = ("lenet5", "alexnet")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    result = perfmodel("report", *MODELS, "--hw", "seed-npu", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "perfmodel report: batch sweep: alexnet at batch 256" in result.stderr  # progress on stderr
    assert result.stdout == ""
    return out


@pytest.fixture(scope="module")
def data(report_dir: Path) -> dict:
    return json.loads((report_dir / "report.json").read_text())


@pytest.fixture(scope="module")
def page(report_dir: Path) -> str:
    return (report_dir / "report.html").read_text()


def test_every_file_is_written(report_dir: Path, data: dict) -> None:
    for name in ("report.md", "report.html", "report.json"):
        assert (report_dir / name).stat().st_size > 0
    plots = [e["plot"] for e in data["roofline"]] + [e["plot"] for e in data["batch_sweep"]]
    assert set(plots) == {"roofline-lenet5-seed-npu", "roofline-alexnet-seed-npu", "batch-lenet5", "batch-alexnet"}
    for stem in plots:
        assert (report_dir / f"{stem}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        ET.parse(report_dir / f"{stem}.svg")


def test_json_has_every_section(data: dict) -> None:
    assert list(data) == list(SECTIONS)
    assert data["meta"]["models"] == list(MODELS)
    for section in ("heaviest_layers", "roofline", "batch_sweep", "dtype", "sparsity", "training"):
        assert data[section], section
    assert [e["dtype"] for e in data["training"] if e["model"] == "alexnet"] == ["fp32", "fp32", "fp16", "fp16"]
    assert [p["density"] for p in data["sparsity"][0]["points"]] == [1.0, 0.5, 0.25, 0.1]
    assert [p["batch"] for p in data["batch_sweep"][0]["points"]] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    speedup = data["accelerator"]["tables"][0]
    assert speedup["baseline"] == "scalar-alu"
    assert {(c["model"], c["hardware"]) for c in speedup["cells"]} == {(m, "seed-npu") for m in MODELS}


def test_json_figures_equal_the_records(data: dict) -> None:
    alexnet = analyze_model("alexnet")
    assert data["models"]["alexnet"]["params"] == 61_100_840  # torchvision's count
    assert data["models"]["alexnet"]["macs"] == alexnet.macs
    assert data["models"]["alexnet"]["peak_activation_bytes"] == alexnet.peak_activation_bytes
    top = data["heaviest_layers"]["alexnet"]
    assert [l["flops"] for l in top] == sorted((l.flops for l in alexnet.layers), reverse=True)[:5]
    assert top[0]["flops_share"] == pytest.approx(top[0]["flops"] / alexnet.flops)
    from perfmodel.fusion import fuse

    roof = next(e for e in data["roofline"] if e["model"] == "alexnet")
    assert data["meta"]["fusion"] == "inference" == roof["fusion"]  # the default: as runtimes run it
    assert roof["total_s"] == pytest.approx(predict(fuse(alexnet), load_spec("seed-npu")).total_s)
    side = next(e for e in data["fusion"] if e["model"] == "alexnet")
    assert side["none"]["time_s"] == pytest.approx(simulate(alexnet, load_spec("seed-npu")).time_s)
    assert side["inference"]["time_s"] == pytest.approx(simulate(fuse(alexnet), load_spec("seed-npu")).time_s)
    assert side["speedup"] == pytest.approx(side["none"]["time_s"] / side["inference"]["time_s"])
    sweep = next(e for e in data["batch_sweep"] if e["model"] == "alexnet")
    assert sweep["points"][0]["time_s"] == pytest.approx(roof["total_s"])  # batch 1 is the roofline run


def test_markdown_has_the_tables(report_dir: Path) -> None:
    text = (report_dir / "report.md").read_text()
    for heading in ("## Model comparison", "## Heaviest layers (top 5 by FLOPs)", "## Roofline",
                    "## Speedups over scalar-alu", "## Fused and unfused", "## Batch sweep", "## Dtype what-if",
                    "## Sparsity what-if", "## Training step"):
        assert heading in text
    assert re.search(r"^\| params \(trainable\) +\| +61,706 \| +61,100,840 \|$", text, re.M)
    assert re.search(r"^\| peak live activation memory", text, re.M)
    assert "![Roofline of alexnet on seed-npu](roofline-alexnet-seed-npu.png)" in text
    for first_column in ("density", "dtype", "batch"):  # one what-if table per model
        assert len(re.findall(rf"^\|\s*{first_column}\s*\|", text, re.M)) == 2, first_column


def test_html_is_standalone(page: str) -> None:
    assert "<script" not in page and "<link" not in page
    assert not re.findall(r'(?:src|href)\s*=\s*"(?!data:|#)', page)  # nothing fetched from outside
    assert "<table>" in page and "61,100,840" in page


def test_html_embedded_images_decode(page: str) -> None:
    import matplotlib.image

    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(pngs) == 2  # one roofline per model
    for data in pngs:
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(data, validate=True)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 2  # one batch-sweep plot per model
    for svg in svgs:
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"


PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var svgs = Array.from(document.querySelectorAll("body > figure > svg"))
    .filter(function (s) { return s.getBBox().width > 0; }).length;
  var m = document.createElement("div");
  m.id = "probe";
  m.textContent = "images " + ok + "/" + imgs.length + " svgs " + svgs;
  document.body.appendChild(m);
});
</script>"""


def browser_probe(html: str, tmp_path: Path) -> str:
    """Open a copy of the page with a load-time probe in headless Chromium; return the probe's line."""
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    if browser is None:
        if os.environ.get("CI"):  # .ci/run installs chromium: a CI run must open the page, never skip
            pytest.fail("no chromium binary found, though .ci/run installs one")
        pytest.skip("no chromium binary found")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r'<div id="probe">([^<]*)</div>', result.stdout)
    assert found, result.stderr[-2000:]
    return found.group(1)


def test_html_images_load_in_a_headless_browser(page: str, tmp_path: Path) -> None:
    assert browser_probe(page, tmp_path) == "images 2/2 svgs 2"


def test_browser_probe_sees_a_broken_image(tmp_path: Path) -> None:
    # The control: a PNG data URI that does not decode must not count as loaded.
    broken = '<html><body><img src="data:image/png;base64,iVBORw0KGgoAAAAN"></body></html>'
    assert browser_probe(broken, tmp_path) == "images 0/1 svgs 0"


def test_spec_without_the_dtype_gets_notes_not_times() -> None:
    report = build_report(["lenet5"], ["seed-npu"], ReportOptions(dtype="fp16", batches=(1, 2)))
    assert report.data["roofline"][0]["note"] == "seed-npu gives no fp16 peak: not predicted"
    assert report.data["batch_sweep"][0]["points"] == []
    assert report.plots == []
    assert all(t is None for p in report.data["sparsity"][0]["points"] for t in p["time_s"].values())


@pytest.mark.parametrize("args, fragment", [
    (("lenet5", "--hw", "no-such-hw"), "unknown hardware"),
    (("no-such-model", "--hw", "seed-npu"), "no-such-model"),
    (("lenet5", "--hw", "seed-npu", "--top", "0"), "--top"),
    (("lenet5", "--hw", "seed-npu", "--max-batch", "0"), "--max-batch"),
])
def test_bad_input_is_one_line(args, fragment, tmp_path: Path) -> None:
    result = perfmodel("report", *args, "-o", tmp_path / "r")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfmodel: error: ") and fragment in lines[0], result.stderr


def test_format_json_prints_every_section() -> None:
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "perfmodel", "report", "lenet5", "--hw", "seed-npu",
                             "--max-batch", "4", "--format", "json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"models", "heaviest_layers", "roofline", "accelerator", "batch_sweep", "dtype", "sparsity",
                         "training"}
    assert data["models"]["lenet5"]["params"] == 61_706
