"""Dynamic work distribution for the parallel kernels: an atomic task counter.

numba's `prange` splits its range into one equal, static chunk per thread. On a shared machine
(2 cores, other processes running) one thread often gets a fraction of a core, and with static
chunks the whole kernel then waits for that thread: measured 1.5-3x slower than onnxruntime's
dynamically scheduled pool on the same layer. Here each worker (one `prange` iteration per thread)
instead claims tasks from a shared counter with an atomic fetch-and-add until none are left, so a
slowed thread simply takes fewer tasks:

    counter = new_counter()
    for w in prange(workers):
        while True:
            task = claim(counter)
            if task >= ntasks:
                break
            ...

`claim` is one LLVM `atomicrmw add` (numba has no atomics of its own); tasks are tens of
microseconds, so its cost is nil.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _fetch_add(typingctx, counter, value):
    """Atomically counter[0] += value; returns the previous counter[0] (int64 arrays only)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64 and isinstance(value, types.Integer)):
        return None
    sig = types.int64(counter, value)

    def codegen(context, builder, signature, args):
        ary_ty = signature.args[0]
        ary = context.make_array(ary_ty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, ary_ty, ary, [context.get_constant(types.intp, 0)])
        val = context.cast(builder, args[1], signature.args[1], types.int64)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


@njit(cache=True)
def new_counter():  # pragma: no cover - jitted
    """A fresh shared task counter (one int64 set to 0)."""
    return np.zeros(1, np.int64)


@njit(cache=True)
def claim(counter):  # pragma: no cover - jitted
    """The next task index (0, 1, 2, ... across all threads, each returned once)."""
    return _fetch_add(counter, 1)
