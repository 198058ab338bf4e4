"""The loader's early shape inference in a forked child (perfmodel.background, perfmodel.graph): the
child's result is the function's own, a child that fails changes nothing, and a graph loaded with
the child gives exactly the analysis loaded without it, on real exports, invalid, unsorted and
defaulted-input graphs."""

from __future__ import annotations

import os
import select
import signal
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import perfmodel.graph as graph_module
from perfmodel.background import ChildFailed, Forked, can_fork
from perfmodel.errors import PerfmodelError
from perfmodel.walk import UnsupportedOpWarning, analyze_model
from tests.benchmarks.big_graph import big_model
from tests.old_opset_graphs import with_default_input

DATA = Path(__file__).parent / "data"
forks = pytest.mark.skipif(not can_fork(), reason="perfmodel forks on Linux only; elsewhere it runs in-process")


def _pid_and(value):
    yield os.getpid(), value


def _fails_in_a_child(parent: int, how: str, after: int = 0):
    """Yields 0, 1, ... `after` - 1, then fails in a child (the next values are computed here)."""
    for k in range(after):
        yield k, os.getpid()
    if os.getpid() != parent:
        if how == "signal":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("only in the child")
    yield "computed here", os.getpid()


@forks
def test_the_result_comes_from_the_child() -> None:
    (pid, value), = Forked(_pid_and, {"a": (1, 2)}).parts()
    assert pid != os.getpid() and value == {"a": (1, 2)}


@forks
@pytest.mark.parametrize("how", ["exception", "signal"])
@pytest.mark.parametrize("after", [0, 2])
def test_a_child_that_fails_leaves_the_work_to_this_process(how: str, after: int) -> None:
    """The values the child sent before it failed are its own; the rest are computed here. (A child
    killed by a signal may die before its writer thread sent all it made: those are made here too.)"""
    here = os.getpid()
    values = list(Forked(_fails_in_a_child, here, how, after).parts())
    assert [v for v, _ in values] == [*range(after), "computed here"]
    sent = sum(pid != here for _, pid in values)
    assert all(pid != here for _, pid in values[:sent]) and values[-1][1] == here
    assert sent == after if how == "exception" else sent <= after


@forks
def test_a_child_that_fails_after_forgo_rerun_raises_here() -> None:
    """Freed of its arguments, a Forked cannot redo the child's work: its failure is raised."""
    here = os.getpid()
    child = Forked(_fails_in_a_child, here, "exception", 2)  # (the values made before are all sent)
    child.forgo_rerun()
    parts = child.parts()
    assert [v for v, _ in (next(parts), next(parts))] == [0, 1]
    with pytest.raises(ChildFailed, match="_fails_in_a_child failed after 2 values"):
        next(parts)


@forks
def test_values_come_one_at_a_time() -> None:
    """The first value is taken while the child still computes the next (it waits on a pipe here)."""
    read, write = os.pipe()

    def two():
        yield "first"
        os.read(read, 1)  # the child waits for this process to have taken the first value
        yield "second"

    child = Forked(two)
    parts = child.parts()
    assert next(parts) == "first"
    os.write(write, b"x")
    assert list(parts) == ["second"] and child._pid is None  # reaped at the end
    os.close(read)
    os.close(write)


@forks
def test_the_child_runs_ahead_of_what_is_taken_here() -> None:
    """The child makes 4 MiB of values (64 of them) before this process takes any, then says so on a
    second pipe: its writes wait for this process, its computing does not (were they written where
    they are made, the child would wait on the full pipe, its last word never said)."""
    read, write = os.pipe()

    def many():
        for k in range(64):
            yield bytes([k]) * (64 << 10)
        os.write(write, b"all made")

    child = Forked(many)
    ready, _, _ = select.select([read], [], [], 30)
    assert ready and os.read(read, 8) == b"all made"
    assert [part[:1] for part in child.parts()] == [bytes([k]) for k in range(64)]
    os.close(read)
    os.close(write)


def test_errors_are_raised_here() -> None:
    def invalid():
        raise PerfmodelError("invalid model: node 'x'")
        yield

    with pytest.raises(PerfmodelError, match="node 'x'"):
        list(Forked(invalid).parts())


@forks
def test_cancel_reaps_the_child() -> None:
    child = Forked(_pid_and, None)
    pid = child._pid
    child.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # neither running nor a zombie: reaped


def test_without_fork_the_function_runs_when_asked(monkeypatch) -> None:
    monkeypatch.setattr("perfmodel.background.can_fork", lambda: False)
    calls = []

    def counted():
        calls.append(1)
        yield len(calls)

    child = Forked(counted)
    assert calls == [] and list(child.parts()) == [1]


def _files(tmp_path: Path) -> dict[str, Path]:
    """Real exports, a 6,000-node graph, the same unsorted, with a defaulted input, and invalid."""
    files = {p.stem: p for p in sorted(DATA.glob("small_*.onnx"))}
    big = big_model(6000)
    files["big"] = tmp_path / "big.onnx"
    onnx.save(big, files["big"])
    unsorted = onnx.ModelProto()
    unsorted.CopyFrom(big)
    nodes = list(unsorted.graph.node)
    del unsorted.graph.node[:]
    unsorted.graph.node.extend(reversed(nodes))
    files["unsorted"] = tmp_path / "unsorted.onnx"
    onnx.save(unsorted, files["unsorted"])
    files["defaulted input"] = tmp_path / "defaulted.onnx"
    onnx.save(with_default_input(big, "input"), files["defaulted input"])
    invalid = onnx.ModelProto()
    invalid.CopyFrom(big)
    invalid.graph.initializer[-5].CopyFrom(numpy_helper.from_array(np.zeros((8, 8, 3), np.float32),
                                                                   invalid.graph.initializer[-5].name))
    files["invalid"] = tmp_path / "invalid.onnx"
    onnx.save(invalid, files["invalid"])
    return files


def _analysis(path: Path, fork_above: int, monkeypatch):
    monkeypatch.setattr(graph_module, "FORK_ABOVE", fork_above)
    try:
        return analyze_model(path, batch=2)
    except PerfmodelError as exc:
        return str(exc)


@forks
def test_a_graph_loads_alike_with_and_without_the_child(tmp_path: Path, monkeypatch) -> None:
    started = []
    monkeypatch.setattr(graph_module, "Forked", lambda *a: started.append(a[0]) or Forked(*a))
    for name, path in _files(tmp_path).items():
        started.clear()
        with_child = _analysis(path, 0, monkeypatch)
        assert started, name  # the child was started (and, for an unsorted graph, cancelled)
        assert with_child == _analysis(path, 10**9, monkeypatch), name
        if name == "invalid":
            assert "invalid model: node 'b1499/conv' (Conv)" in with_child
        else:
            assert not isinstance(with_child, str) and with_child.complete, (name, with_child)


@forks
@pytest.mark.parametrize("sent", [0, 1, 2, 3])
def test_a_child_killed_after_some_of_its_parts_changes_nothing(sent: int, tmp_path: Path, monkeypatch) -> None:
    """The child dies after making `sent` of its parts (the initializers' tables, the inputs, then
    the shapes a chunk at a time, as the walk takes them; it may have sent fewer): the loader
    computes the rest itself, and the analysis is the serial one."""
    parent = os.getpid()
    real = graph_module._inputs_and_inference

    def dying(*args):
        for k, part in enumerate(real(*args)):
            if os.getpid() != parent and k == sent:
                os.kill(os.getpid(), signal.SIGKILL)
            yield part

    monkeypatch.setattr(graph_module, "_inputs_and_inference", dying)
    path = tmp_path / "big.onnx"
    onnx.save(big_model(6000), path)
    assert _analysis(path, 0, monkeypatch) == _analysis(path, 10**9, monkeypatch)


def _streamed(monkeypatch) -> list:
    """Every Arriving the loader makes, and each chunk it merges, as ("arriving", n) and ("chunk", k)."""
    events = []
    real_init, real_merge = graph_module.Arriving.__init__, graph_module.Arriving._merge_next

    def init(self, *args):
        events.append(("arriving", len(events)))
        real_init(self, *args)

    def merge(self):
        merged = real_merge(self)
        events.append(("chunk", merged))
        return merged

    monkeypatch.setattr(graph_module.Arriving, "__init__", init)
    monkeypatch.setattr(graph_module.Arriving, "_merge_next", merge)
    return events


@forks
def test_a_large_graph_is_walked_while_its_shapes_arrive(tmp_path: Path, monkeypatch) -> None:
    """A graph that needs no pass after onnx's inference is returned before its shapes are in: the
    first node is ready after one chunk, and once all are merged the graph is the one loaded
    without streaming, table for table."""
    path = tmp_path / "big.onnx"
    onnx.save(big_model(12_000), path)  # 12,000 node outputs: six chunks
    monkeypatch.setattr(graph_module, "FORK_ABOVE", 0)
    events = _streamed(monkeypatch)
    graph = graph_module.load_graph(path, batch=2, stream=True)
    assert graph.arriving is not None and events == [("arriving", 0)]
    nodes = iter(graph.ready_nodes())
    assert next(nodes) is graph.nodes[0] and events[1:] == [("chunk", True)]  # one chunk, not all
    assert len(list(nodes)) == len(graph.nodes) - 1 and graph.arriving is None
    assert events.count(("chunk", True)) >= 6
    plain = graph_module.load_graph(path, batch=2)
    for table in ("shapes", "constants", "param_like", "float_tensors", "widths", "inputs", "outputs", "nodes"):
        assert getattr(graph, table) == getattr(plain, table), table
    assert list(graph.shapes) == list(plain.shapes)  # (in the same order: errors name the first huge tensor)


@forks
def test_streamed_shapes_that_fall_short_load_the_graph_again(tmp_path: Path, monkeypatch) -> None:
    """A NonZero's output has no static shape: the walk stops at it, and the graph is loaded and
    walked again without streaming, giving the serial analysis (the NonZero's cost unknown)."""
    model = big_model(6000)
    last = model.graph.output[0].name
    model.graph.node.append(helper.make_node("NonZero", [last], ["where"], name="where"))
    model.graph.output.append(helper.make_tensor_value_info("where", onnx.TensorProto.INT64, None))
    path = tmp_path / "nonzero.onnx"
    onnx.save(model, path)
    events = _streamed(monkeypatch)
    monkeypatch.setattr(graph_module, "FORK_ABOVE", 0)
    with pytest.raises(graph_module.ShapesFellShort, match="node 'where' \\(NonZero\\)"):
        list(graph_module.load_graph(path, stream=True).ready_nodes())
    with pytest.warns(UnsupportedOpWarning, match="node 'where' \\(NonZero\\): shapes unknown"):
        streamed = _analysis(path, 0, monkeypatch)
    assert [kind for kind, _ in events].count("arriving") == 2 and events.count(("chunk", False)) == 2
    with pytest.warns(UnsupportedOpWarning, match="node 'where'"):
        assert streamed == _analysis(path, 10**9, monkeypatch)
    assert streamed.unknown_layers == ("where",)


@forks
def test_an_error_in_a_streamed_walk_is_the_serial_loads_error(tmp_path: Path, monkeypatch) -> None:
    """A node breaking its op's spec stops the streamed walk at the first layer; the whole load then
    runs, and its error (a tensor over 2^40 elements, which the serial load finds before any walk)
    is the one raised."""
    model = big_model(6000)
    # the first Conv's bias, of the wrong length (onnx's inference does not look at it)
    model.graph.node[0].input.append("bias")
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), "bias"))
    last = model.graph.output[0].name
    model.graph.node.append(helper.make_node("Expand", [last, "dims"], ["huge"], name="huge"))
    model.graph.initializer.append(numpy_helper.from_array(np.array([1 << 40, 1, 8, 8, 8], np.int64), "dims"))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("huge", onnx.TensorProto.FLOAT, None))
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    events = _streamed(monkeypatch)
    streamed = _analysis(path, 0, monkeypatch)
    assert [kind for kind, _ in events].count("arriving") == 1
    assert streamed == _analysis(path, 10**9, monkeypatch)
    assert "tensor 'huge' has shape 1099511627776x2x8x8x8: over 2^40 elements" in streamed
