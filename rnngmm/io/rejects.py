"""The rejects table of ``prepare`` (``<output stem>.rejects.ecsv``), written streaming.

Columns ``catalog_row`` (int64), ``id`` and ``reason`` (text), one row per
catalog object left out of the dataset, sorted by catalog row. Rows arrive
in batches in increasing row order (``prepare``'s blocks) and are merged
with the rows the catalog reader rejected; the file is written under a
temporary name and renamed when complete.
"""

import contextlib

import numpy as np

from rnngmm.io.atomic import atomic_path
from rnngmm.io.table_stream import TextTableStream, text_array

COMMENT = "Objects of the catalog left out of the dataset, and why."


def rejects_table(rows, ids, reasons):
    """An astropy table of rejects (three equally long sequences)."""
    from astropy.table import Table
    table = Table([np.asarray(rows, np.int64), text_array(ids), text_array(reasons)],
                  names=("catalog_row", "id", "reason"))
    table.meta["comments"] = [COMMENT]
    return table


class RejectsStream:
    """Collects rejects in batches and appends them, in row order, to the stream.

    Parameters
    ----------
    stream : TextTableStream
    earlier : list of (int, str, str)
        ``(row, id, reason)`` rejected before any light curve was read
        (catalog reader), sorted by row.
    batch_rows : int
        Rows collected before they are written.
    """

    def __init__(self, stream, earlier=(), batch_rows=20000):
        self.stream = stream
        self.earlier = sorted(earlier)
        self.next_earlier = 0
        self.batch_rows = batch_rows
        self.pending = []
        self.count = 0

    def add(self, rows, ids, reasons):
        """Rejects of the next block (rows increasing, after every earlier batch)."""
        self.pending.extend(zip((int(r) for r in rows), ids, reasons))
        if len(self.pending) >= self.batch_rows:
            self._write(final=False)

    def _write(self, final):
        upto = self.pending[-1][0] if self.pending else -1
        stop = len(self.earlier) if final else self.next_earlier
        while not final and stop < len(self.earlier) and self.earlier[stop][0] <= upto:
            stop += 1
        rows = sorted(self.pending + self.earlier[self.next_earlier:stop])
        self.next_earlier = stop
        self.pending = []
        if rows or final:
            self.stream.write(rejects_table([r[0] for r in rows], [r[1] for r in rows],
                                            [r[2] for r in rows]))
            self.count += len(rows)

    def close(self):
        """Write what is left (and the header of an empty table)."""
        self._write(final=True)


@contextlib.contextmanager
def rejects_writer(path, earlier=()):
    """Yield a :class:`RejectsStream` whose file appears at ``path`` when complete."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            writer = RejectsStream(TextTableStream(handle, "ascii.ecsv"), earlier)
            yield writer
            writer.close()
