"""Limits on every size that comes from user input, checked before allocating.

A few bytes of input (``--chips 1000000000``, a gzip bomb with a valid IDX
header, one huge line in a CSV) must not take the machine down. Each limit
below is checked before the memory it guards is allocated; the sweep limits
can be lifted with ``--allow-large`` (``run_sweep(..., allow_large=True)``).
docs/limits.md lists them; tests/test_limits.py crafts an input for each.
"""

__all__ = [
    "MAX_VOLTAGES", "MAX_CHIPS", "MAX_SWEEP_POINTS", "MAX_LINE_BYTES", "MAX_CELL_ROWS",
    "MAX_DATASET_BYTES", "MAX_HEX_DUMP_BYTES",
]

#: voltages in one sweep (``--voltages START:STOP:N``)
MAX_VOLTAGES = 10_000
#: chips per (model, voltage) (``--chips``)
MAX_CHIPS = 100_000
#: models x chips x voltages in one sweep
MAX_SWEEP_POINTS = 1_000_000
#: longest line of a text file an importer reads (stuck-at maps, cells CSV)
MAX_LINE_BYTES = 1 << 20
#: rows of a cells CSV (one per faulty cell)
MAX_CELL_ROWS = 50_000_000
#: decompressed bytes of one IDX array or CIFAR batch, from its header, before reading
MAX_DATASET_BYTES = 2 << 30
#: bytes of one FPGA hex dump
MAX_HEX_DUMP_BYTES = 4 << 30
