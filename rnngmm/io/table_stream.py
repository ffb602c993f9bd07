"""Write a text table (ECSV or CSV) block by block, identical to a whole-table write.

astropy writes a table in one call. :class:`TextTableStream` renders each
block with astropy exactly as a whole-table write would, keeps the header
once, and appends only the data lines of later blocks, so a table of any
length is written holding one block. Every block's header must equal the
first one's (same columns, types and metadata); a difference is an error,
never a silently mixed file.
"""

import io

import numpy as np


class TextTableStream:
    """Append astropy tables with the same columns to one open text file.

    Parameters
    ----------
    handle : file
        Open for writing (text).
    format : str
        astropy format, ``"ascii.ecsv"`` or ``"ascii.csv"``.
    **write_options
        Passed to ``Table.write`` (e.g. ``comment="# "``).
    """

    def __init__(self, handle, format, **write_options):
        self.handle = handle
        self.format = format
        self.write_options = write_options
        self.header = None
        self.started = False
        self.rows = 0

    def _render(self, table):
        buffer = io.StringIO()
        table.write(buffer, format=self.format, **self.write_options)
        return buffer.getvalue()

    def write(self, table):
        """Append ``table``'s rows (the first call also writes the header)."""
        header = self._render(table[:0])
        if self.header is None:
            self.header = header
        elif header != self.header:
            raise ValueError("a block of the table has other columns, types or metadata "
                             "than the first block")
        text = self._render(table) if len(table) else header
        if not text.startswith(header):
            raise ValueError("astropy wrote a block whose header differs from that of "
                             "an empty table with the same columns")
        self.handle.write(text[len(header):] if self.started else text)
        self.started = True
        self.rows += len(table)


def text_array(values):
    """A numpy unicode array of ``values`` (``U1`` when empty), for table columns."""
    values = np.array([str(v) for v in values], dtype=str)
    return values if len(values) else np.zeros(0, dtype="U1")
