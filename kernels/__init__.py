"""Measured ground truth for perfmodel: numba CPU kernels of the CNN layers perfmodel models.

One module per op family, mirroring perfmodel's op rules:
  conv.py        Conv (direct and im2col+GEMM strategies, per-shape choice)
  gemm.py        Gemm / MatMul (blocked GEMM, streaming GEMV)
  pool.py        MaxPool, AveragePool, GlobalAveragePool
  norm.py        BatchNormalization (and folding into conv), LRN
  elementwise.py Relu, Add
  preprocess.py  resize + center-crop input pipeline
  dispatch.py    make_runner(LayerCost) -> Runner, the single entry point from a layer record
  sched.py       atomic task counter: dynamic work distribution for the parallel kernels
  stream.py      STREAM copy, triad and read-only bandwidth kernels (calibrate and compare)
  compare.py     `python -m kernels.compare`: these kernels vs onnxruntime and numpy BLAS

All kernels are fp32, NCHW, `njit(parallel=True, fastmath=True, cache=True)`. Importing this package
compiles nothing; each kernel compiles (or loads from numba's on-disk cache) on first call.
"""
