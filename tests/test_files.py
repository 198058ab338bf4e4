"""Output files (perfmodel.files, the CLI options layer): atomic, never onto an input, deterministic."""

from __future__ import annotations

import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.files import replacing, write_atomic
from tests.conftest import assert_one_line_error, perfmodel


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("previous result\n")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half a res")
            raise RuntimeError("disk full, say")
    assert target.read_text() == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_unwritable_targets_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(PerfmodelError, match="is a directory"):
        write_atomic(tmp_path, "x")
    with pytest.raises(PerfmodelError, match="does not exist"):
        write_atomic(tmp_path / "no" / "such" / "x.txt", "x")


def test_output_onto_the_input_model_is_refused(tmp_path) -> None:
    import models_onnx

    model = models_onnx.export("lenet5", tmp_path / "lenet5.onnx")
    before = model.read_bytes()
    for command in (["analyze"], ["roofline", "--hw", "a100"], ["accel", "--hw", "seed-npu"]):
        assert_one_line_error(perfmodel(*command[:1], model, *command[1:], "-o", model), "input of this run")
    assert model.read_bytes() == before


@pytest.mark.parametrize("command", [["analyze", "lenet5"], ["roofline", "lenet5", "--hw", "a100"],
                                     ["accel", "lenet5", "--hw", "seed-npu"]])
@pytest.mark.parametrize("top", ["0", "-2", "x"])
def test_top_must_be_positive(command, top) -> None:
    assert_one_line_error(perfmodel(*command, "--top", top), "--top")


@pytest.mark.parametrize("command", [["analyze", "lenet5", "--format", "csv"],
                                     ["roofline", "lenet5", "--hw", "a100", "--format", "json"],
                                     ["speedup", "lenet5", "--hw", "seed-npu", "--baseline", "scalar-alu"],
                                     ["accel", "lenet5", "--hw", "seed-npu", "--format", "markdown"],
                                     ["hw", "list"], ["zoo", "list", "--format", "markdown"]])
def test_every_table_command_writes_what_it_prints(command, tmp_path) -> None:
    printed = perfmodel(*command)
    assert printed.returncode == 0, printed.stderr
    out = tmp_path / "out.txt"
    written = perfmodel(*command, "-o", out)
    assert written.returncode == 0 and written.stdout == "" and f"wrote {out}" in written.stderr
    assert out.read_text() == printed.stdout


def test_same_command_same_bytes(tmp_path) -> None:
    outputs = []
    for i in range(2):
        svg = tmp_path / f"roof{i}.svg"
        result = perfmodel("roofline", "lenet5", "--hw", "a100", "--format", "json", "-o", tmp_path / f"r{i}.json",
                           "--plot", svg)
        assert result.returncode == 0, result.stderr
        outputs.append(((tmp_path / f"r{i}.json").read_bytes(), svg.read_bytes()))
    assert outputs[0] == outputs[1]


def test_a_missing_command_module_fails_at_start(monkeypatch) -> None:
    from perfmodel import cli

    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("no_such_command",))
    with pytest.raises(ModuleNotFoundError):
        cli.build_parser()


def test_the_report_is_byte_identical_run_to_run(tmp_path) -> None:
    outs = []
    for i in range(2):
        folder = tmp_path / f"r{i}"
        result = perfmodel("report", "lenet5", "--hw", "seed-npu", "--max-batch", "2", "-o", folder)
        assert result.returncode == 0, result.stderr
        outs.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    assert outs[0].keys() == outs[1].keys() and outs[0] == outs[1]
