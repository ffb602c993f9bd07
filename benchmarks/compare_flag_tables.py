"""Are two flag tables the same row for row? (the redesign's behaviour check)

    .venv/bin/python benchmarks/compare_flag_tables.py BEFORE.ecsv AFTER.ecsv

Compares every column the two tables share, in row order (numbers exactly,
NaN equal to NaN), and lists columns only one of them has. Exit code 1 when a
shared column differs.
"""

import sys

import numpy as np
from astropy.table import Table


def differing_columns(before, after):
    """Names of shared columns whose values differ, and the number of rows."""
    if len(before) != len(after):
        return ["<row count>"]
    out = []
    for name in before.colnames:
        if name not in after.colnames:
            continue
        a, b = np.asarray(before[name]), np.asarray(after[name])
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            same = np.array_equal(a.astype(float), b.astype(float), equal_nan=True)
        else:
            same = np.array_equal(a.astype(str), b.astype(str))
        if not same:
            out.append(name)
    return out


def main(argv=None):
    before_path, after_path = (argv or sys.argv[1:])[:2]
    before = Table.read(before_path, format="ascii.ecsv")
    after = Table.read(after_path, format="ascii.ecsv")
    differ = differing_columns(before, after)
    shared = [c for c in before.colnames if c in after.colnames]
    print(f"{len(before)} / {len(after)} rows; {len(shared)} shared columns; "
          f"only before: {[c for c in before.colnames if c not in after.colnames]}; "
          f"only after: {[c for c in after.colnames if c not in before.colnames]}")
    print("identical" if not differ else f"differ: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
