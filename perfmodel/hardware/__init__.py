"""Hardware specs: one TOML file per machine, one loader, presets in `perfmodel/hw/`.

Modules: `spec` (the frozen classes), `read` (load and validate), `write` (back to TOML).

The roofline model reads `HardwareSpec.peak_flops` and `mem_bandwidth`; the accelerator model reads
`HardwareSpec.accelerator`. `load_spec("a100")` finds a preset (file stem in perfmodel/hw/, case
and `-`/`_` insensitive); `load_spec("my-cpu.toml")` reads a user file, e.g. the output of
`python -m perfmodel calibrate -o my-cpu.toml`. `spec_to_toml(spec)` writes a spec back, and
`load_spec` reads that file to an equal spec (`spec_from_toml(text)` does the same for a string).

Spec file schema
----------------
Every number carries its unit in its key name: `<quantity>_<unit>`, e.g. `mem_bandwidth_GBps = 64`.
Values are plain TOML numbers (a string such as "64 GB/s" is rejected: the unit is in the key),
read as the decimal written: `clock_GHz = 0.98` is exactly 0.98e9 Hz.
Give each quantity once, in any one of its units:

    bandwidth   <q>_Bps, <q>_MBps, <q>_GBps, <q>_TBps    (decimal: 1 GBps = 1e9 bytes/s)
    frequency   <q>_Hz, <q>_MHz, <q>_GHz                  (decimal)
    size        <q>_bytes, <q>_KiB, <q>_MiB, <q>_GiB      (binary: 1 KiB = 1024 bytes; whole bytes)
    peak rate   [peak_FLOPS], [peak_GFLOPS], [peak_TFLOPS] tables, one number per dtype
                (operations/s; for int8 read "OPS": 1 TFLOPS of int8 = 1e12 int8 ops/s)

A processor (CPU, GPU) spec:

    name = "a100"                 # optional; defaults to the file's stem
    description = "..."           # required, one line
    source = "..."                # required: datasheet, paper, exercise, or `perfmodel calibrate`
    mem_bandwidth_GBps = 1555     # required: DRAM/HBM bandwidth
    cores = 108                   # optional, a positive integer (SMs for a GPU)
    clock_GHz = 1.41              # optional

    [peak_TFLOPS]                 # required: FLOP/s per dtype; dtypes are perfmodel's
    fp32 = 19.5                   #   fp32, fp16, bf16, int8 (see perfmodel.record)
    fp16 = 312

    [[cache]]                     # optional, repeated, innermost level first
    name = "L2"
    size_MiB = 40
    bandwidth_GBps = 5000         # optional

An accelerator spec replaces `mem_bandwidth_*`, `clock_*` and `[peak_*]` with one `[accelerator]`
table; its peak is derived, never typed twice: peak = 2 x macs_per_cycle x clock for `dtype` and
each of `extra_dtypes`, its memory bandwidth is `dram_bandwidth_*`, its clock the array's clock.

    [accelerator]
    mac_rows = 16                 # MAC array rows x cols; or `macs_per_cycle = 256` alone (rows = 1)
    mac_cols = 16
    clock_GHz = 1
    dtype = "fp32"                # the array's native dtype
    extra_dtypes = ["int8"]       # optional: dtypes it also runs at the same MAC rate
    weight_buffer_KiB = 256       # on-chip buffers (required, > 0)
    input_buffer_KiB = 64
    output_buffer_KiB = 64
    dram_bandwidth_GBps = 64
    double_buffering = true       # required: DRAM transfers overlap compute
    dataflow = "weight-stationary"   # required: a name in perfmodel.accel.dataflow.DATAFLOWS
    systolic = false              # optional (default false): count array fill/drain cycles
    weight_load = "overlapped"    # optional: "serial" stalls mac_rows cycles per weight fold (SCALE-Sim)
    accumulator_bits = 32         # optional: partial sums' width (8 to 64, a multiple of 8)

    [accelerator.energy]          # optional: what `accel` needs to report energy
    mac_pJ = 4.6                  # pJ per MAC; or a table [accelerator.energy.mac_pJ] fp32 = 4.6 ...
    weight_buffer_pJ_per_byte = 7.071   # per byte read or written (SRAM)
    input_buffer_pJ_per_byte = 3.536
    output_buffer_pJ_per_byte = 3.536
    dram_pJ_per_byte = 162.5      # per byte transferred
    static_mW = 0                 # optional: static power

Any missing required field, non-positive number, unknown key (typo), unknown dtype, wrong type or
wrong unit raises `PerfmodelError` with one line naming the file and the field. The commented preset
`perfmodel/hw/seed-npu.toml` shows the accelerator form, `perfmodel/hw/a100.toml` the processor form.
"""

from perfmodel.hardware.read import list_presets, load_spec, spec_from_dict, spec_from_toml
from perfmodel.hardware.spec import PRESET_DIR, AcceleratorSpec, CacheLevel, EnergySpec, HardwareSpec
from perfmodel.hardware.write import spec_to_toml

__all__ = ["PRESET_DIR", "AcceleratorSpec", "CacheLevel", "EnergySpec", "HardwareSpec", "list_presets", "load_spec",
           "spec_from_dict", "spec_from_toml", "spec_to_toml"]
