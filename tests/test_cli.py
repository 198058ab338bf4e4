"""The command line as a user meets it: help, formats, the JSON contract, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import models_onnx
from tests.conftest import assert_one_line_error, perfmodel, perfmodel_process
from tests.onnx_graphs import torch_legacy_style




def analyze_macs(name: str) -> int:
    from perfmodel.walk import analyze_model

    return analyze_model(name).macs


def test_help_everywhere() -> None:
    top = perfmodel_process("--help")
    assert top.returncode == 0 and "analyze" in top.stdout and "examples:" in top.stdout
    for sub in (["analyze"], ["zoo"], ["zoo", "export"]):
        result = perfmodel(*sub, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, sub


def test_analyze_table_names_conventions_and_totals() -> None:
    result = perfmodel_process("analyze", "alexnet")
    assert result.returncode == 0, result.stderr
    assert "MAC = one multiply-accumulate" in result.stdout
    assert "61,100,840" in result.stdout and "714,188,480" in result.stdout


def test_json_contract() -> None:
    result = perfmodel("analyze", "resnet18", "--format", "json", "--batch", "2")
    data = json.loads(result.stdout)
    assert set(data) >= {"model", "inputs", "totals", "layers", "unsupported_ops"}
    assert data["inputs"] == {"input": [2, 3, 224, 224]}
    assert set(data["totals"]) >= {"params", "trainable_params", "non_trainable_params", "macs", "flops",
                                   "activations", "weight_bytes", "activation_bytes", "peak_activation_bytes"}
    layer_keys = {"name", "op_type", "input_shapes", "output_shapes", "params", "macs", "flops", "activations",
                  "bytes_read", "bytes_written", "intensity", "receptive_field"}
    assert all(layer_keys <= set(layer) for layer in data["layers"])
    assert data["totals"]["params"] == 11_689_512
    assert sum(l["macs"] for l in data["layers"]) == data["totals"]["macs"] == 2 * analyze_macs("resnet18")
    assert data["unsupported_ops"] == []


def test_csv_and_markdown_and_top() -> None:
    rows = list(csv.DictReader(io.StringIO(perfmodel("analyze", "lenet5", "--format", "csv").stdout)))
    assert rows[0]["op_type"] == "Conv" and int(rows[0]["macs"]) == 6 * 28 * 28 * 25
    md = perfmodel("analyze", "vgg16", "--format", "markdown", "--top", "3").stdout
    assert md.count("| Conv ") == 3 and "|---" in md.replace(":", "-")


def test_file_and_dynamic_batch(tmp_path) -> None:
    path = tmp_path / "dyn.onnx"
    import onnx

    onnx.save(torch_legacy_style(), path)
    assert_one_line_error(perfmodel("analyze", path), "dynamic dimension", "--batch")
    ok = perfmodel("analyze", path, "--batch", "3", "--format", "json")
    assert json.loads(ok.stdout)["inputs"]["input"] == [3, 3, 16, 16]
    ok = perfmodel("analyze", path, "--input-shape", "input=2x3x16x16", "--format", "json")
    assert json.loads(ok.stdout)["inputs"]["input"] == [2, 3, 16, 16]


def test_bad_files(tmp_path) -> None:
    assert_one_line_error(perfmodel("analyze", tmp_path / "missing.onnx"), "no such file")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    assert_one_line_error(perfmodel("analyze", empty), "empty file")
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(bytes(range(256)) * 64)
    assert_one_line_error(perfmodel("analyze", noise), "noise.onnx")
    text = tmp_path / "model.txt"
    text.write_text("this is not a model\n" * 10)
    assert_one_line_error(perfmodel("analyze", text))
    assert_one_line_error(perfmodel("analyze", tmp_path), "directory")


def test_truncated_file(tmp_path) -> None:
    full = models_onnx.export("lenet5", tmp_path / "full.onnx")
    data = full.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        part = tmp_path / f"cut{cut}.onnx"
        part.write_bytes(data[:cut])
        assert_one_line_error(perfmodel("analyze", part))


def test_bad_options() -> None:
    assert_one_line_error(perfmodel("analyze", "resnet18", "--batch", "0"), "--batch")
    assert_one_line_error(perfmodel("analyze", "resnet18", "--input-shape", "input=1x3xAx2"), "bad shape")
    assert_one_line_error(perfmodel("analyze", "resnet18", "--input-shape", "1x3x4x4"), "NAME=SHAPE")
    assert_one_line_error(perfmodel("analyze", "resnet18", "--input-shape", "input=100000x3x100000x100000"),
                          "2^40")
    assert_one_line_error(perfmodel("analyze", "nosuchmodel"), "built-in")


def test_zoo_list_and_export(tmp_path) -> None:
    listing = perfmodel("zoo", "list")
    assert listing.returncode == 0 and "resnet152" in listing.stdout and "60,192,808" in listing.stdout
    out = tmp_path / "m.onnx"
    result = perfmodel("zoo", "export", "mlp", "-o", out, "--weights", "zeros")
    assert result.returncode == 0 and out.exists()
    assert json.loads(perfmodel("analyze", out, "--format", "json").stdout)["totals"]["params"] == 22_538
    assert_one_line_error(perfmodel("zoo", "export", "nosuch", "-o", out), "unknown model")


@pytest.mark.parametrize("dtype,factor", [("fp16", 2), ("int8", 4)])
def test_dtype_option(dtype: str, factor: int) -> None:
    base = json.loads(perfmodel("analyze", "lenet5", "--format", "json").stdout)["totals"]
    other = json.loads(perfmodel("analyze", "lenet5", "--format", "json", "--dtype", dtype).stdout)["totals"]
    assert other["weight_bytes"] * factor == base["weight_bytes"]


def test_analysis_never_imports_numba_or_matplotlib() -> None:
    """Analysis must start fast: numba lives in kernels/, matplotlib in the plotting paths only."""
    code = ("import sys; from perfmodel.cli import main; main(['analyze', 'lenet5', '--format', 'json']); "
            "heavy = [m for m in ('numba', 'matplotlib', 'kernels') if m in sys.modules]; "
            "print('HEAVY', heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stderr, result.stderr


def test_broken_graphs_are_one_line_errors(tmp_path) -> None:
    import onnx
    from onnx import helper

    from tests.onnx_graphs import model, value

    missing = model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")], [value("x", [1, 3, 8, 8])],
                    [value("y", None)])
    cycle = model([helper.make_node("Relu", ["a"], ["b"], name="r1"), helper.make_node("Add", ["x", "b"], ["a"])],
                  [value("x", [1, 4])], [value("b", [1, 4])])
    for name, m, fragment in (("missing", missing, "missing initializer"), ("cycle", cycle, "cycle")):
        path = tmp_path / f"{name}.onnx"
        onnx.save(m, path)
        assert_one_line_error(perfmodel("analyze", path), fragment)


def test_a_partial_result_says_so_everywhere_and_exits_3(tmp_path) -> None:
    import onnx
    from onnx import helper

    from tests.onnx_graphs import model, value

    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("FancyOp", ["a"], ["b"], name="fancy", domain="com.example"),
             helper.make_node("Relu", ["b"], ["y"], name="relu_after")]
    path = tmp_path / "partial.onnx"
    m = model(nodes, [value("x", [1, 4])], [value("y", None)])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, path)
    table = perfmodel("analyze", path)
    assert table.returncode == 3 and "INCOMPLETE: 2 of 3 layers" in table.stdout
    assert "LOWER BOUND" in table.stdout and "INCOMPLETE" in table.stderr
    data = json.loads(perfmodel("analyze", path, "--format", "json").stdout)
    assert data["complete"] is False and data["unknown_layers"] == ["fancy", "relu_after"]
    assert data["totals_are_lower_bounds"] is True
    assert perfmodel("analyze", path, "--allow-partial").returncode == 0
    for command in (["roofline", path, "--hw", "a100"], ["accel", path, "--hw", "seed-npu"],
                    ["speedup", path, "--hw", "seed-npu", "--baseline", "scalar-alu"]):
        result = perfmodel(*command)
        assert result.returncode == 3 and "INCOMPLETE" in result.stderr, command
    complete = json.loads(perfmodel("analyze", "lenet5", "--format", "json").stdout)
    assert complete["complete"] is True and complete["unknown_layers"] == []


def test_json_printed_as_bytes_reads_as_the_text_in_process(tmp_path) -> None:
    """The process prints the JSON as UTF-8 bytes; in-process, with a text-only stdout, it prints it
    as text: the same characters either way, a name with an accent and a line break included."""
    from onnx import helper

    from tests.onnx_graphs import model, value

    path = tmp_path / "names.onnx"
    onnx_model = model([helper.make_node("Relu", ["x"], ["y"], name="résumé\nrelu")], [value("x", [1, 4])],
                       [value("y", None)])
    path.write_bytes(onnx_model.SerializeToString())
    in_process = perfmodel("analyze", path, "--format", "json")
    process = perfmodel_process("analyze", path, "--format", "json")
    assert process.returncode == in_process.returncode == 0, process.stderr
    assert process.stdout == in_process.stdout
    assert json.loads(process.stdout)["layers"][0]["name"] == "résumé\\nrelu"


def test_names_the_terminal_cannot_encode_are_escaped_not_a_traceback(tmp_path) -> None:
    """On a terminal whose encoding lacks a name's characters (here ASCII), tables write them as
    Python escapes and JSON stays UTF-8: exit 0, no UnicodeEncodeError."""
    import os

    from onnx import helper

    from tests.onnx_graphs import model, value

    path = tmp_path / "accent.onnx"
    path.write_bytes(model([helper.make_node("Relu", ["x"], ["y"], name="résumé")], [value("x", [1, 4])],
                           [value("y", None)]).SerializeToString())
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for fmt in ("table", "csv", "json"):
        result = subprocess.run([sys.executable, "-m", "perfmodel", "analyze", str(path), "--format", fmt],
                                capture_output=True, env=env, timeout=120)
        assert result.returncode == 0 and b"Traceback" not in result.stderr, (fmt, result.stderr)
        if fmt == "json":
            assert json.loads(result.stdout.decode("utf-8"))["layers"][0]["name"] == "résumé"
        else:
            assert b"r\\xe9sum\\xe9" in result.stdout, fmt
