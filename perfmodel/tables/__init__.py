"""Human tables (tabulate), one module per subject; numbers formatted by `perfmodel.units` alone.

`analyze` (a ModelCost's layers and totals), `roofline`, `validate`, `hw`. Commands pick a module
and a tabulate format; none lays out a table itself.
"""

from perfmodel.tables.analyze import (
    CONVENTIONS, group_table, header, incomplete_line, layer_table, scope_table, totals_table,
)

__all__ = ["CONVENTIONS", "group_table", "header", "incomplete_line", "layer_table", "scope_table", "totals_table"]
