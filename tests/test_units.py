"""perfmodel.units: the one formatting policy, and the arithmetic helpers defined once."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from perfmodel.units import binary, byte_rate, ceil_div, flop_rate, frequency, numel, seconds, shape, si


def test_one_policy_four_significant_digits_one_kilo() -> None:
    assert si(9408) == "9.408 k"  # SI's lowercase kilo, everywhere
    assert si(512) == "512" and si(0) == "0"
    assert si(714_188_480, "MAC") == "714.2 MMAC"
    assert binary(3_211_264) == "3.062 MiB" and binary(256 * 1024) == "256 KiB" and binary(100) == "100 B"
    assert byte_rate(1555e9) == "1555 GB/s" and byte_rate(12.8e9) == "12.8 GB/s"
    assert flop_rate(19.5e12) == "19.5 TFLOP/s" and flop_rate(624e12, "int8") == "624 TOP/s"
    assert frequency(0.98e9) == "980 MHz" and frequency(1e9) == "1 GHz"
    assert seconds(5.768e-4) == "576.8 us" and seconds(3.2e-9) == "3.2 ns"
    assert shape((1, 3, 224, 224)) == "1x3x224x224" and shape(()) == "scalar"


def test_no_exponent_when_rounding_reaches_five_digits() -> None:
    assert byte_rate(9999.7e9) == "10000 GB/s"  # .4g would print 1e+04
    assert byte_rate(3.35e12) == "3350 GB/s"


def test_every_table_and_hw_show_print_a100_bandwidth_alike() -> None:
    from perfmodel.tables.hw import list_table, show_text
    from perfmodel.hardware import load_spec
    from perfmodel.report.document import meta_blocks

    a100 = load_spec("a100")
    assert "1555 GB/s" in show_text(a100) and "1555 GB/s" in list_table()
    from perfmodel.report.build import hardware_dict

    meta = {"hardware": [hardware_dict(a100)], "dtype": "fp32", "models": []}
    rendered = repr(meta_blocks({"meta": meta}))
    assert "1555 GB/s" in rendered and "TB/s" not in rendered


@given(st.integers(-10**6, 10**6), st.integers(1, 10**4))
def test_ceil_div_is_exact_ceiling(a: int, b: int) -> None:
    assert ceil_div(a, b) == math.ceil(Fraction(a, b))


def test_numel() -> None:
    assert numel((2, 3, 4)) == 24 and numel(()) == 1 and numel(None) == 0
