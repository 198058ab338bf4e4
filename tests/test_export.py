"""The JSON writer (perfmodel.export): orjson for the bulk, json's encoder for integers over 64 bits,
non-finite numbers refused wherever they are, and the text reading back as the records it came from."""

from __future__ import annotations

import json
import math

import pytest
from onnx import helper

from perfmodel.export import encode, group_dict, json_text, layer_dict, model_dict, to_json
from perfmodel.walk import analyze_model
from tests.onnx_graphs import model, value


def test_an_integer_over_64_bits_is_written_exactly() -> None:
    item = {"name": "loop", "macs": 2**62 * 256, "intensity": 0.5}
    assert json.loads(encode(item)) == item
    assert json.loads(json_text({"layers": [item, {"name": "b", "macs": 1}]}))["layers"][0]["macs"] == 2**70


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", ["item", "nested", "top"])
def test_a_non_finite_number_is_refused(bad: float, where: str) -> None:
    data = {"item": {"layers": [{"name": "a", "time_s": bad}]},
            "nested": {"layers": [{"name": "a", "subgraphs": [{"macs": 1, "flops": bad}]}]},
            "top": {"totals": {"params": 1}, "peak": bad}}[where]
    with pytest.raises(ValueError):
        json_text(data)


def test_nulls_and_names_read_back() -> None:
    item = {"name": 'null "x"\\ é', "receptive_field": None, "shape": (1, (2, 3))}
    assert json.loads(encode(item)) == {**item, "shape": [1, [2, 3]]}


def test_an_analysis_reads_back_as_its_records() -> None:
    cost = analyze_model("googlenet")
    data = json.loads(b"".join(to_json(cost)))
    expected = [json.loads(json.dumps(layer_dict(layer))) for layer in cost.layers]
    assert [{k: v for k, v in layer.items() if k != "group"} for layer in data["layers"]] == expected
    assert data["totals"]["params"] == 6_624_904


def test_each_item_of_a_list_on_its_own_line_whatever_its_strings_hold() -> None:
    """Strings with line breaks, the separator orjson's list is split on, and quotes stay inside their
    item: one line per item, and the items read back as they were (json's own encoder the reference)."""
    tricky = ['a,\n,b', '},\n,{"name":', "\n", ",", 'x\\', "é\u2028", ""]
    items = [{"name": name, "n": k, "shape": (k, 2)} for k, name in enumerate(tricky * 3)]
    text = json_text({"layers": items})
    lines = text.split("\n")
    assert lines[0] == "{" and lines[-1] == "}" and len(lines) == len(items) + 4
    assert [json.loads(line.strip().rstrip(",")) for line in lines[2:-2]] \
        == [json.loads(json.dumps(item)) for item in items]
    assert json.loads(text) == json.loads(json.dumps({"layers": items}))


def test_unfused_groups_rows_are_group_dict_of_each_layer() -> None:
    """The JSON builds an unfused layer's group row from its layer row: it must be group_dict's,
    supported layers and uncosted ones alike."""
    uncosted = model([helper.make_node("Relu", ["x"], ["a"], name="r"),
                      helper.make_node("Foo", ["a"], ["y"], name="foo", domain="my.domain")],
                     [value("x", [1, 4])], [value("y", None)])
    uncosted.opset_import.append(helper.make_opsetid("my.domain", 1))
    for cost in (analyze_model("googlenet"), analyze_model(uncosted)):
        assert model_dict(cost)["groups"] == [group_dict(layer) for layer in cost.layers]
