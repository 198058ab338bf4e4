"""`perfmodel accel` as a user meets it: tables, JSON, the pseudo-ISA program, one-line errors."""

from __future__ import annotations

import json

import pytest

from perfmodel.accel.layer_spec import parse_layer
from perfmodel.errors import PerfmodelError
from tests.conftest import assert_one_line_error, perfmodel


def test_accel_table_with_baseline():
    result = perfmodel("accel", "alexnet", "--hw", "seed-npu", "--baseline", "scalar-alu", "--top", "3")
    assert result.returncode == 0, result.stderr
    assert "speedup over scalar-alu" in result.stdout and "classifier.1" in result.stdout
    assert "util%" in result.stdout and "bound" in result.stdout


def test_accel_json_contract():
    result = perfmodel("accel", "lenet5", "--hw", "seed-npu", "--baseline", "a100", "--format", "json")
    data = json.loads(result.stdout)
    assert set(data) >= {"model", "hardware", "dtype", "totals", "layers", "baseline"}
    assert set(data["totals"]) >= {"total_cycles", "time_s", "dram_bytes", "dram_bytes_per_operand", "utilisation"}
    conv = next(l for l in data["layers"] if l["op_type"] == "Conv")
    assert set(conv["schedule"]) >= {"tm", "tk", "tn", "loop_order", "passes", "mapping"}
    assert set(conv["traffic"]) == {"input", "weight", "output", "psum"}
    assert data["baseline"]["method"] == "roofline"
    assert data["baseline"]["speedup"] == pytest.approx(data["baseline"]["time_s"] / data["totals"]["time_s"])


def test_program_of_exercise_7_7():
    result = perfmodel("accel", "--layer", "fc:M=32,K=256,N=128", "--hw", "seed-npu", "--program")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for fragment in ("move DRAM->NBin", "move DRAM->WRAM", "move NBout->DRAM", "compute MAC_32", "loop ",
                     "endloop", "sync", "180,224 B", "input 32,768, weight 131,072, output 16,384",
                     "without overlap: compute + DRAM = 6.912 us", "4,096 cycles = 4.096 us"):
        assert fragment in out, fragment
    assert "double-buffered" in out and "compute-bound" in out


def test_program_of_a_conv_layer():
    result = perfmodel("accel", "--layer", "conv:N=1,C=3,H=224,W=224,K=64,R=11,S=4,P=2,G=1", "--hw", "seed-npu",
                       "--program", "--baseline", "scalar-alu")
    assert result.returncode == 0, result.stderr
    assert "GEMM 3025x363x64" in result.stdout and "speedup" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (["alexnet", "--hw", "a100"], "no [accelerator]"),
    (["--hw", "seed-npu"], "MODEL"),
    (["alexnet", "--layer", "fc:M=1,K=2,N=3", "--hw", "seed-npu"], "not both"),
    (["alexnet", "--hw", "seed-npu", "--program"], "--layer"),
    (["--layer", "fc:M=32,K=256", "--hw", "seed-npu"], "missing N"),
    (["--layer", "conv:C=3,H=8,K=4,R=3,G=2", "--hw", "seed-npu"], "not divisible"),
    (["--layer", "pool:C=3", "--hw", "seed-npu"], "fc:"),
    (["--layer", "fc:M=1,K=2,N=3", "--batch", "4", "--hw", "seed-npu"], "--batch"),
])
def test_accel_errors_are_one_line(args, fragment):
    assert_one_line_error(perfmodel("accel", *args), fragment)


def test_layer_syntax():
    kind, v = parse_layer("conv:C=3,H=224,K=64,R=11,S=4,P=2")
    assert kind == "conv" and v["N"] == 1 and v["W"] == 224 and v["R"] == (11, 11) and v["S"] == (4, 4)
    assert parse_layer("conv:C=3,H=8,W=6,K=2,R=3x5,P=1x2")[1]["R"] == (3, 5)
    assert parse_layer("fc:M=1,K=2,N=3,bias=1") == ("fc", {"M": 1, "K": 2, "N": 3, "bias": 1, "relu": 0})
    for bad in ("fc:M=0,K=2,N=3", "fc:M=1,K=x,N=3", "fc:M=1,M=2,K=2,N=3", "conv:C=3,H=2,K=1,R=5"):
        with pytest.raises(PerfmodelError):
            parse_layer(bad)


def test_program_shows_the_fused_epilogue_inside_the_tile_loop():
    """conv 64->64 3x3 on 56x56 with BN, residual Add and Relu: the Add and Relu run on each output tile's
    last K visit (2 x 3136 x 64 FLOPs / 16 lanes = 25,088 cycles), the residual is 3136 x 64 x 4 B."""
    result = perfmodel("accel", "--layer", "conv:C=64,H=56,K=64,R=3,P=1,bn=1,relu=1,residual=1", "--hw", "seed-npu",
                       "--program")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    vec = next(i for i, line in enumerate(lines) if "compute VEC Add+Relu" in line)
    mac = next(i for i, line in enumerate(lines) if "compute MAC_32" in line)
    end = next(i for i, line in enumerate(lines) if line.strip().startswith("endloop"))
    assert mac < vec < end and "25,088 cycles" in lines[vec] and "BatchNormalization folded" in lines[vec]
    assert any("802,816 B" in line and "residual operand" in line for line in lines)
    unfused = perfmodel("accel", "--layer", "conv:C=64,H=56,K=64,R=3,P=1,bn=1,relu=1,residual=1", "--hw", "seed-npu",
                        "--program", "--fusion", "none")
    assert "compute VEC Add+Relu" not in unfused.stdout
