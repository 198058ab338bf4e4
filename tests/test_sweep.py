"""perfmodel sweep: the sweep file, the Pareto flag (against brute force), resume, and the engines
(local processes and a Dask LocalCluster give the same rows as one process)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from perfmodel.sweep.config import load_sweep
from perfmodel.sweep.evaluate import evaluate, row_fields
from perfmodel.sweep.pareto import dominates, mark_pareto
from tests.conftest import assert_one_line_error, perfmodel

SWEEP = """base = "seed-npu"
models = ["lenet5", "alexnet"]
batch = [1, 2]
[grid]
mac_rows = [8, 16]
mac_cols = [8, 32]
weight_buffer_KiB = [16, 256]
dataflow = ["weight-stationary", "output-stationary"]
"""


def write(tmp: Path, text: str = SWEEP) -> Path:
    path = tmp / "sweep.toml"
    path.write_text(text)
    return path


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_grid_and_its_rows(tmp_path: Path) -> None:
    sweep = load_sweep(str(write(tmp_path)))
    assert sweep.keys == ("mac_rows", "mac_cols", "weight_buffer_KiB", "dataflow") and len(sweep.points) == 16
    spec = sweep.spec((16, 32, 256, "output-stationary"))
    assert (spec.accelerator.mac_rows, spec.accelerator.mac_cols) == (16, 32)
    assert spec.accelerator.weight_buffer_bytes == 256 * 1024 and spec.accelerator.dataflow == "output-stationary"
    rows = evaluate(sweep, [0])
    assert len(rows) == 4 and set(rows[0]) == set(row_fields(sweep))
    assert all(r["latency_s"] > 0 and r["energy_J"] > 0 for r in rows)
    assert rows[0]["edp_Js"] == pytest.approx(rows[0]["energy_J"] * rows[0]["latency_s"])


def test_pareto_flag_equals_brute_force(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = perfmodel("sweep", write(tmp_path), "-o", out)
    assert result.returncode == 0, result.stderr
    rows = rows_of(out)
    assert len(rows) == 16 * 4
    for model, batch in itertools.product(("lenet5", "alexnet"), ("1", "2")):
        mine = [r for r in rows if r["model"] == model and r["batch"] == batch]
        goals = [(float(r["latency_s"]), float(r["energy_J"]), float(r["on_chip_bytes"])) for r in mine]
        for row, goal in zip(mine, goals):
            beaten = any(dominates(other, goal) for other in goals)
            assert row["pareto"] == ("false" if beaten else "true")
    assert "Pareto front, alexnet at batch 2" in result.stdout


def test_mark_pareto_on_hand_made_points() -> None:
    rows = [{"model": "m", "batch": 1, "latency_s": lat, "energy_J": e, "on_chip_bytes": b}
            for lat, e, b in ((1, 5, 10), (2, 4, 10), (2, 6, 10), (1, 5, 10), (3, 3, 1))]
    mark_pareto(rows)
    assert [r["pareto"] for r in rows] == ["true", "true", "false", "true", "true"]


def test_resume_after_an_interrupted_run(tmp_path: Path) -> None:
    path = write(tmp_path)
    full = tmp_path / "full.csv"
    assert perfmodel("sweep", path, "-o", full).returncode == 0
    # an interrupted run: its journal holds the first 5 points' rows, and no finished file exists
    out = tmp_path / "resumed.csv"
    sweep = load_sweep(str(path))
    journal = out.with_name(out.name + ".partial")
    with open(journal, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=row_fields(sweep), lineterminator="\n")
        writer.writeheader()
        writer.writerows(evaluate(sweep, range(5)))
    result = perfmodel("sweep", path, "-o", out, "--resume")
    assert result.returncode == 0 and "11 to run, 5 already done" in result.stderr
    assert out.read_text() == full.read_text() and not journal.exists()


def test_local_processes_and_dask_give_the_same_rows(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    path = write(tmp_path)
    one, two, dask = (tmp_path / n for n in ("one.csv", "two.csv", "dask.csv"))
    assert perfmodel("sweep", path, "-o", one).returncode == 0
    assert perfmodel("sweep", path, "-o", two, "--jobs", "2", "--chunk", "3").returncode == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        result = perfmodel("sweep", path, "-o", dask, "--scheduler", c.scheduler_address, "--chunk", "4")
    assert result.returncode == 0, result.stderr
    assert one.read_text() == two.read_text() == dask.read_text()


def test_json_summary_with_decimal_grid_values(tmp_path: Path) -> None:
    text = 'base = "seed-npu"\nmodels = ["lenet5"]\n[grid]\nclock_GHz = [0.5, 0.98]\n'
    result = perfmodel("sweep", write(tmp_path, text), "-o", tmp_path / "r.csv", "--format", "json")
    assert result.returncode == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    assert data["points"] == 2 and {p["clock_GHz"] for p in data["pareto"]} <= {0.5, 0.98}
    assert "0.98" in (tmp_path / "r.csv").read_text()


def test_random_samples_are_reproducible(tmp_path: Path) -> None:
    text = ('base = "seed-npu"\nmodels = ["lenet5"]\nsamples = 6\nseed = 3\n[range]\nmac_rows = [4, 64]\n'
            'clock_GHz = [0.5, 2.0]\ndataflow = ["weight-stationary", "output-stationary"]\n')
    a, b = load_sweep(str(write(tmp_path, text))), load_sweep(str(write(tmp_path, text)))
    assert a.points == b.points and len(a.points) == 6
    assert all(4 <= p[0] <= 64 and isinstance(p[0], int) and 0.5 <= p[1] <= 2.0 for p in a.points)


@pytest.mark.parametrize("text, fragment", [
    (SWEEP.replace('base = "seed-npu"', 'base = "a100"'), "key 'base'"),
    (SWEEP.replace('base = "seed-npu"', 'base = "nosuch"'), "unknown hardware"),
    (SWEEP.replace('models = ["lenet5", "alexnet"]', "models = []"), "key 'models'"),
    (SWEEP.replace("batch = [1, 2]", "batch = [0]"), "key 'batch'"),
    ("samples = 3\n" + SWEEP, "key 'grid'"),
    (SWEEP.replace("mac_rows = [8, 16]", "mac_rows = []"), "key 'grid.mac_rows'"),
    (SWEEP.replace("mac_rows = [8, 16]", "mac_rows = [8, -1]"), "mac_rows"),
    (SWEEP.replace("mac_rows = [8, 16]", "mac_rowz = [8]"), "mac_rowz"),
    ("bogus = 1\n" + SWEEP, "key 'bogus'"),
    ("not toml [", "invalid TOML"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_key(text: str, fragment: str, tmp_path: Path) -> None:
    assert_one_line_error(perfmodel("sweep", write(tmp_path, text), "-o", tmp_path / "r.csv"), fragment)


def test_a_partial_model_is_flagged_in_every_row_and_the_exit_status(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    from tests.onnx_graphs import model, tensor, value

    m = model([helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
               helper.make_node("Fancy", ["c"], ["y"], name="fancy", domain="com.example")],
              [value("x", [1, 4, 8, 8])], [value("y", None)], [tensor("w", 4, 4, 3, 3)])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, tmp_path / "partial.onnx")
    text = 'base = "seed-npu"\nmodels = ["partial.onnx"]\n[grid]\nmac_rows = [8, 16]\n'
    out = tmp_path / "r.csv"
    result = perfmodel("sweep", write(tmp_path, text), "-o", out)
    assert result.returncode == 3 and "INCOMPLETE" in result.stderr
    assert all(r["note"].startswith("INCOMPLETE") for r in rows_of(out))
    assert perfmodel("sweep", write(tmp_path, text), "-o", out, "--allow-partial").returncode == 0
