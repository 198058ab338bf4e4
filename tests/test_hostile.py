"""A corpus of hostile inputs through the CLI: every one is a one-line error (exit 2), or a result that
says it is partial (exit 3); never a traceback, a hang or unbounded memory.

The corpus is generated here (no files committed): broken files, invalid and adversarial models
(arity, spec violations, shape bombs, control characters and invalid UTF-8 in names), bad hardware
specs and bad options. `python -m pytest tests/test_hostile.py -q` prints how many it holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models_onnx
from tests.conftest import perfmodel
from tests.onnx_graphs import ints, model, one_node, tensor, value
from tests.test_invalid import CASES as INVALID

F = TensorProto.FLOAT
SPEC = 'name = "x"\ndescription = "d"\nsource = "s"\nmem_bandwidth_GBps = {bw}\n[peak_TFLOPS]\nfp32 = {peak}\n'


def _bomb(shape_values, op="ConstantOfShape"):
    if op == "ConstantOfShape":
        nodes = [helper.make_node("ConstantOfShape", ["s"], ["big"]), helper.make_node("Relu", ["big"], ["y"])]
        return model(nodes, [], [value("y", None)], [ints("s", shape_values)])
    if op == "Expand":
        nodes = [helper.make_node("Expand", ["x", "s"], ["big"]), helper.make_node("Relu", ["big"], ["y"])]
        return model(nodes, [value("x", [1, 1])], [value("y", None)], [ints("s", shape_values)])
    nodes = [helper.make_node("Tile", ["x", "s"], ["big"]), helper.make_node("Relu", ["big"], ["y"])]
    return model(nodes, [value("x", [2, 2])], [value("y", None)], [ints("s", shape_values)])


def _named(name: str):
    return model([helper.make_node("Relu", ["x"], ["y"], name=name)], [value("x", [1, 4])], [value("y", None)])


def model_corpus() -> dict[str, onnx.ModelProto]:
    cases = {f"invalid: {k}": m for k, (m, _) in INVALID.items()}
    arity = {
        "Shape without input": [helper.make_node("Shape", [], ["s"])],
        "Constant without output": [helper.make_node("Constant", [], [], value=numpy_helper.from_array(
            np.ones(2, np.float32)))],
        "Conv with one input": [helper.make_node("Conv", ["x"], ["c"])],
        "Relu with two inputs": [helper.make_node("Relu", ["x", "x"], ["r"])],
        "Relu without output": [helper.make_node("Relu", ["x"], [])],
        "Gemm with one input": [helper.make_node("Gemm", ["x"], ["g"])],
        "Add with one input": [helper.make_node("Add", ["x"], ["a"])],
    }
    for name, nodes in arity.items():
        cases[f"arity: {name}"] = model(nodes + [helper.make_node("Relu", ["x"], ["y"])], [value("x", [1, 4])],
                                        [value("y", None)])
    for exp in (41, 50, 62):
        cases[f"bomb: ConstantOfShape 2^{exp}"] = _bomb([2 ** (exp // 2), 2 ** (exp - exp // 2)])
        cases[f"bomb: Expand 2^{exp}"] = _bomb([2 ** (exp // 2), 2 ** (exp - exp // 2)], "Expand")
        cases[f"bomb: Tile 2^{exp}"] = _bomb([2 ** (exp // 2), 2 ** (exp - exp // 2)], "Tile")
    for label, name in (("newline", "a\nb"), ("escape", "\x1b[31mred\x1b[0m"), ("NUL", "a\x00b"),
                        ("carriage return", "x\ry"), ("bell and backspace", "\x07\x08"), ("long", "n" * 100_000)):
        cases[f"name: {label}"] = _named(name)
    cycle = model([helper.make_node("Relu", ["a"], ["b"], name="r1"), helper.make_node("Add", ["x", "b"], ["a"])],
                  [value("x", [1, 4])], [value("b", [1, 4])])
    cases["cycle"] = cycle
    cases["missing initializer"] = model([helper.make_node("Conv", ["x", "w"], ["y"])], [value("x", [1, 3, 8, 8])],
                                         [value("y", None)])
    cases["dynamic input"] = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", ["n", 4])],
                                   [value("y", None)])
    cases["zero input dim"] = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", [0, 4])],
                                    [value("y", None)])
    cases["huge input"] = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", [2**30, 2**30])],
                                [value("y", None)])
    cases["input without shape"] = model([helper.make_node("Relu", ["x"], ["y"])],
                                         [helper.make_tensor_value_info("x", F, None)], [value("y", None)])
    cases["sparse constant"] = model([helper.make_node("Constant", [], ["c"], sparse_value=helper.make_sparse_tensor(
        numpy_helper.from_array(np.ones(1, np.float32), "v"), numpy_helper.from_array(np.zeros(1, np.int64), "i"), [4])),
        helper.make_node("Add", ["x", "c"], ["y"])], [value("x", [4])], [value("y", None)])
    cases["reshape to a bad count"] = one_node("Reshape", [(3, 5)], [ints("s", [4, 4])])
    cases["no graph outputs"] = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", [1, 4])], [])
    cases.update(_control_flow_cases())
    return cases


def _control_flow_cases() -> dict[str, onnx.ModelProto]:
    """If / Loop / Scan that break their spec, or whose outputs would be absurd."""
    from tests.test_control_flow import if_model, loop_model, scan_model

    cases = {"loop: 2^62 iterations stacked into an output": loop_model(2**62)}
    m = scan_model(5)
    next(a for a in m.graph.node[0].attribute if a.name == "num_scan_inputs").i = 7
    cases["scan: more scan inputs than inputs"] = m
    m = loop_model(3)
    del m.graph.node[0].attribute[0].g.input[2]
    cases["loop: body without its state input"] = m
    m = if_model()
    m.graph.node[2].attribute[0].g.output.append(helper.make_tensor_value_info("extra", F, None))
    cases["if: branches with different output counts"] = m
    return {f"control flow: {k}": v for k, v in cases.items()}


def _loop_with_dynamic_trip_count() -> onnx.ModelProto:
    from tests.test_control_flow import loop_model

    return loop_model(3, m_as_input=True)


PARTIAL = {  # not invalid: a cost rule is missing, so the result is partial (exit 3)
    "custom-domain op": model([helper.make_node("Fancy", ["x"], ["y"], domain="com.example")], [value("x", [1, 4])],
                              [value("y", None)]),
    "loop whose trip count is a graph input": _loop_with_dynamic_trip_count(),
}


def _utf8_broken(tmp: Path) -> list[Path]:
    """Invalid UTF-8 in a node name and in a string attribute, patched into the serialized bytes."""
    out = []
    for what, m in (("name", _named("NAMEMARK")),
                    ("attribute", one_node("Resize", [(1, 1, 2, 2)], [tensor("r", 0), tensor("scales", 4)],
                                           mode="MARKMODE"))):
        raw = m.SerializeToString()
        marker = b"NAMEMARK" if what == "name" else b"MARKMODE"
        path = tmp / f"utf8_{what}.onnx"
        path.write_bytes(raw.replace(marker, b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"))
        out.append(path)
    return out


def file_corpus(tmp: Path) -> list[Path]:
    files = []
    good = models_onnx.export("lenet5", tmp / "lenet5.onnx").read_bytes()
    for cut in (1, 7, 100, len(good) // 4, len(good) // 2, len(good) - 100, len(good) - 1):
        (tmp / f"cut{cut}.onnx").write_bytes(good[:cut])
        files.append(tmp / f"cut{cut}.onnx")
    rng = np.random.default_rng(0)
    for size in (1, 16, 1000, 100_000):
        (tmp / f"noise{size}.onnx").write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        files.append(tmp / f"noise{size}.onnx")
    for name, data in (("empty.onnx", b""), ("text.onnx", b"not a model\n" * 50), ("json.onnx", b'{"graph": {}}'),
                       ("png.onnx", b"\x89PNG\r\n\x1a\n" + bytes(100)), ("gzip.onnx", b"\x1f\x8b\x08" + bytes(50)),
                       ("zeros.onnx", bytes(4096)), ("ff.onnx", b"\xff" * 4096)):
        (tmp / name).write_bytes(data)
        files.append(tmp / name)
    (tmp / "dir.onnx").mkdir()
    os.mkfifo(tmp / "fifo.onnx")
    files += [tmp / "dir.onnx", tmp / "fifo.onnx", Path("/dev/zero"), Path("/dev/null"), tmp / "missing.onnx"]
    return files


def spec_corpus(tmp: Path) -> list[str]:
    texts = {
        "underflow": SPEC.format(bw="1e-400", peak=1), "overflow": SPEC.format(bw="9" * 400, peak=1),
        "huge float": SPEC.format(bw="1e300", peak=1), "inf": SPEC.format(bw="inf", peak=1),
        "nan": SPEC.format(bw="nan", peak=1), "negative": SPEC.format(bw=-5, peak=1),
        "zero peak": SPEC.format(bw=5, peak=0), "string": SPEC.format(bw='"64 GB/s"', peak=1),
        "deep": "a = " + "[" * 5000 + "]" * 5000, "binary": "\x00\xff\xfe",
        "huge count": SPEC.format(bw=5, peak=1) + "cores = " + "9" * 60 + "\n",
    }
    paths = []
    for name, text in texts.items():
        path = tmp / f"{name}.toml"
        path.write_bytes(text.encode("utf-8", "surrogateescape") if name != "binary" else b"\x00\xff\xfe")
        paths.append(str(path))
    os.mkfifo(tmp / "fifo.toml")
    big = tmp / "big.toml"
    big.write_text("# " + "x" * (2 << 20))
    return paths + [str(tmp / "fifo.toml"), "/dev/zero", str(big), str(tmp), "no-such-spec"]


OPTIONS = [
    ["analyze", "lenet5", "--top", "0"], ["analyze", "lenet5", "--top", "-2"], ["analyze", "lenet5", "--top", "x"],
    ["analyze", "lenet5", "--batch", "0"], ["analyze", "lenet5", "--batch", "-1"], ["analyze", "lenet5", "--batch", "a"],
    ["analyze", "lenet5", "--input-shape", "x=1x1"], ["analyze", "lenet5", "--input-shape", "input=0x1x32x32"],
    ["analyze", "lenet5", "--input-shape", "input"], ["analyze", "lenet5", "--format", "yaml"],
    ["analyze", "lenet5", "--dtype", "fp64"], ["analyze", "lenet5", "--fusion", "all"], ["analyze"],
    ["roofline", "lenet5"], ["roofline", "lenet5", "--hw", "tpu-v1"], ["roofline", "lenet5", "--hw", "a100",
                                                                       "--plot", "x.pdf"],
    ["accel", "lenet5", "--hw", "a100"], ["accel", "--layer", "conv:C=1,H=10000000,W=3,K=1,R=3", "--hw", "seed-npu"],
    ["accel", "--layer", "fc:M=0,K=1,N=1", "--hw", "seed-npu"], ["accel", "--layer", "nonsense", "--hw", "seed-npu"],
    ["accel", "--layer", "conv:C=3,H=2,K=1,R=5", "--hw", "seed-npu"], ["accel", "--hw", "seed-npu"],
    ["speedup", "--hw", "seed-npu", "--baseline", "scalar-alu"], ["report", "lenet5", "--hw", "seed-npu", "--top", "0"],
    ["zoo", "export", "nosuch"], ["hw", "show", "nosuch"], ["calibrate", "--repeats", "0"], ["nosuchcommand"],
]


def check(result, allow_partial: bool = False) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    if allow_partial and result.returncode == 3:
        assert "INCOMPLETE" in result.stderr
        return
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfmodel: error: "), result.stderr[-500:]
    assert len(lines[0]) < 1200  # a 100,000-character name is cut, not echoed whole


@pytest.mark.parametrize("case", list(model_corpus()))
def test_hostile_models(case: str, tmp_path: Path) -> None:
    m = model_corpus()[case]
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    result = perfmodel("analyze", path)
    if case.startswith("name:"):  # a legal model: its name is escaped in the output, never printed raw
        assert result.returncode == 0 and not any(c in result.stdout for c in "\x1b\x00\r\x07\x08")
        assert result.stdout.count("\n") == perfmodel("analyze", path).stdout.count("\n")
        return
    check(result)


@pytest.mark.parametrize("case", list(PARTIAL))
def test_hostile_partial(case: str, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    m = PARTIAL[case]
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, path)
    check(perfmodel("analyze", path), allow_partial=True)


def test_hostile_files(tmp_path: Path) -> None:
    files = file_corpus(tmp_path)
    for path in files:
        check(perfmodel("analyze", path))
    print(f"\n{len(files)} hostile files handled")


def test_invalid_utf8_in_names_and_attributes(tmp_path: Path) -> None:
    """Legal models but for their strings: analyzed, the bytes shown as escapes, never a traceback."""
    for path in _utf8_broken(tmp_path):
        result = perfmodel("analyze", path)
        assert "Traceback" not in result.stderr and result.returncode in (0, 2, 3), result.stderr
        if result.returncode == 0:
            assert "\\xff" in result.stdout or "\\xff" in repr(result.stdout) or "Resize" in result.stdout


def test_hostile_specs(tmp_path: Path) -> None:
    specs = spec_corpus(tmp_path)
    for spec in specs:
        check(perfmodel("roofline", "lenet5", "--hw", spec))
    print(f"\n{len(specs)} hostile specs handled")


@pytest.mark.parametrize("argv", OPTIONS, ids=" ".join)
def test_hostile_options(argv: list[str], tmp_path: Path) -> None:
    check(perfmodel(*argv, cwd=tmp_path))


def test_outputs_onto_hostile_targets(tmp_path: Path) -> None:
    (tmp_path / "a_dir").mkdir()
    for argv in (["analyze", "lenet5", "-o", tmp_path / "a_dir"], ["analyze", "lenet5", "-o", tmp_path / "no/dir/x"],
                 ["roofline", "lenet5", "--hw", "a100", "--plot", tmp_path / "a_dir.png", "-o", tmp_path / "a_dir"],
                 ["zoo", "export", "lenet5", "-o", tmp_path / "a_dir"],
                 ["report", "lenet5", "--hw", "seed-npu", "--max-batch", "1", "-o", tmp_path / "a_file" / "r"]):
        (tmp_path / "a_file").write_text("not a folder")
        check(perfmodel(*argv))


def test_shape_bombs_stay_under_a_gigabyte(tmp_path: Path) -> None:
    """A 3-node file that asks for 2^62 elements, analyzed under a 1 GiB address-space limit."""
    path = tmp_path / "bomb.onnx"
    onnx.save(_bomb([2**31, 2**31]), path)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
            "from perfmodel.cli import main; sys.exit(main(['analyze', sys.argv[1]]))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    check(result)


def test_corpus_size() -> None:
    n = len(model_corpus()) + len(PARTIAL) + len(OPTIONS)
    assert n > 60  # plus the files, specs and output targets counted in their own tests
