"""perfmodel: what a CNN costs (params, MACs, FLOPs, bytes) and how fast it can run.

Kept light on purpose: importing perfmodel loads neither numba nor matplotlib.
"""

__version__ = "0.1.0"
