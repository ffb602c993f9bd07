"""Per-rank part files of ``prepare`` and their streaming join into one dataset.

``prepare`` hands the catalog out in small interleaved blocks (block ``b`` of
``block_objects`` consecutive catalog objects goes to rank ``b % size``).
Each rank appends what it made of its blocks to a :class:`PartWriter`, which
writes a *piece* file every few thousand objects: a small HDF5 file built in
memory and written with plain file I/O (:func:`rnngmm.io.atomic.atomic_hdf5`),
so a full disk is a clean ``ENOSPC``. Pieces are temporaries next to the
output (``.<name>.part-<rank>-<piece>.tmp``): a killed run leaves nothing
that looks like a finished dataset.

:func:`join_parts` (rank 0, after every rank finished) reads the pieces back
block by block in catalog order and appends them to the final dataset, so
memory holds the object table of one piece per rank, ``JOIN_POINTS`` light-curve
points in all, and one HDF5 chunk per column, whatever the size of the
catalog. Piece layout::

    /            attrs: format, rank, size, block_objects
    /objects/index          (n,) int64   catalog index of each kept object
    /objects/{id,label,period_source}  utf-8 str
    /objects/{period,period_power}     float64
    /objects/length         (n,) int64
    /objects/extra/<name>   (n,)         passed-through catalog columns
    /lightcurves/{time,mag,err}        float64, float32, float32
    /rejects/{index,row}    (m,) int64   catalog index and file row of each reject
    /rejects/{id,reason}    (m,) utf-8 str
"""

import contextlib
import glob
import os

import h5py
import numpy as np

from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_hdf5

PART_FORMAT = "rnngmm-prepare-part"
STR = h5py.string_dtype("utf-8")
#: Light-curve points the join reads ahead, over all ranks' pieces together.
JOIN_POINTS = 4_000_000
#: Object columns of a piece (and of the dataset) besides offset and extras.
TEXT_COLUMNS = ("id", "label", "period_source")
FLOAT_COLUMNS = ("period", "period_power")


def piece_prefix(output):
    """Name prefix shared by every piece of ``output`` (in its directory)."""
    output = os.path.abspath(os.fspath(output))
    return os.path.join(os.path.dirname(output), f".{os.path.basename(output)}.part-")


def piece_path(output, rank, number):
    """Path of piece ``number`` of ``rank``."""
    return f"{piece_prefix(output)}{rank}-{number:06d}.tmp"


def remove_pieces(output, rank=None):
    """Delete the pieces of ``output`` (of one ``rank``, or of every rank)."""
    pattern = f"{piece_prefix(output)}{'*' if rank is None else rank}-*.tmp"
    for path in glob.glob(pattern):
        with contextlib.suppress(OSError):
            os.remove(path)


def block_owner(block, size):
    """Rank that prepares block ``block`` of a ``size``-rank job (round robin)."""
    return block % size


def _text(values):
    return np.array([str(v) for v in values], dtype=object)


def _dataset(group, name, values, dtype):
    # Uncompressed: a piece is read once, by the join; lzf cost ~25 s of CPU per
    # 10^8 points to save a third of the (temporary) space.
    values = np.asarray(values, dtype=object if dtype is STR else dtype)
    group.create_dataset(name, data=values, dtype=dtype, chunks=(max(len(values), 1),),
                         maxshape=(None,))


def _extra_dtype(values):
    values = np.asarray(values)
    return STR if values.dtype.kind in "OUS" else values.dtype


class PartWriter:
    """Collects one rank's kept objects and rejects; writes them as pieces.

    Parameters
    ----------
    output : str
        The final dataset (pieces go next to it).
    rank, size, block_objects : int
    extra_dtypes : dict of str to dtype
        Passed-through catalog columns and their (catalog) dtypes.
    piece_objects, piece_points : int
        A piece is written once this many objects or points are pending
        (checked at block ends, so a piece always holds whole blocks).
    """

    def __init__(self, output, rank, size, block_objects, extra_dtypes,
                 piece_objects=4096, piece_points=2_000_000):
        self.output = os.fspath(output)
        self.rank, self.size, self.block_objects = rank, size, block_objects
        self.extra_dtypes = dict(extra_dtypes)
        self.piece_objects, self.piece_points = piece_objects, piece_points
        self.pieces = []
        self._reset()

    def _reset(self):
        self.kept = []
        self.rejects = []
        self.points = 0

    def add_kept(self, index, object_id, label, prepared, extra):
        """Record a kept object (``prepared``: :class:`rnngmm.lightcurves.objects.PreparedObject`)."""
        self.kept.append((int(index), object_id, label, prepared.period,
                          prepared.period_source, prepared.period_power,
                          np.asarray(prepared.time, np.float64),
                          np.asarray(prepared.mag, np.float32),
                          np.asarray(prepared.err, np.float32), extra))
        self.points += len(prepared.time)

    def add_reject(self, index, row, object_id, reason):
        """Record a rejected object."""
        self.rejects.append((int(index), int(row), str(object_id), str(reason)))

    def end_block(self):
        """A block is complete: write a piece if enough is pending."""
        if len(self.kept) + len(self.rejects) >= self.piece_objects or \
                self.points >= self.piece_points:
            self.flush()

    def flush(self):
        """Write what is pending as the next piece (nothing if empty)."""
        if not self.kept and not self.rejects:
            return
        path = piece_path(self.output, self.rank, len(self.pieces))
        try:
            with atomic_hdf5(path) as f:
                self._fill(f)
        except InputError as exc:
            if "No space left" in str(exc) or "quota" in str(exc).lower():
                raise InputError(f"cannot write {self.output!r}: No space left on device "
                                 f"(while writing its part file {os.path.basename(path)!r}; nothing "
                                 "was written; free some space and run again)") from None
            raise
        self.pieces.append(path)
        self._reset()

    def _fill(self, f):
        f.attrs["format"] = PART_FORMAT
        f.attrs["rank"], f.attrs["size"] = self.rank, self.size
        f.attrs["block_objects"] = self.block_objects
        kept = self.kept
        g = f.create_group("objects")
        _dataset(g, "index", [k[0] for k in kept], np.int64)
        for position, name in ((1, "id"), (2, "label"), (4, "period_source")):
            _dataset(g, name, _text(k[position] for k in kept), STR)
        _dataset(g, "period", [k[3] for k in kept], np.float64)
        _dataset(g, "period_power", [k[5] for k in kept], np.float64)
        _dataset(g, "length", [len(k[6]) for k in kept], np.int64)
        xg = g.create_group("extra")
        for name, dtype in self.extra_dtypes.items():
            values = [k[9][name] for k in kept]
            if dtype is STR:
                _dataset(xg, name, _text(values), STR)
            else:
                _dataset(xg, name, np.array(values, dtype=dtype), dtype)
        lg = f.create_group("lightcurves")
        for position, name, dtype in ((6, "time", np.float64), (7, "mag", np.float32),
                                      (8, "err", np.float32)):
            values = [k[position] for k in kept]
            _dataset(lg, name, np.concatenate(values) if values else np.zeros(0, dtype), dtype)
        rg = f.create_group("rejects")
        _dataset(rg, "index", [r[0] for r in self.rejects], np.int64)
        _dataset(rg, "row", [r[1] for r in self.rejects], np.int64)
        _dataset(rg, "id", _text(r[2] for r in self.rejects), STR)
        _dataset(rg, "reason", _text(r[3] for r in self.rejects), STR)

    def discard(self):
        """Remove this rank's pieces (after a failure)."""
        remove_pieces(self.output, self.rank)


def _utf8(dataset):
    """A text column of a piece as its UTF-8 bytes, fixed-width (numpy ``S``:
    a quarter of the memory of Python strings while the join collects a
    65,536-row chunk; HDF5 strings hold no NUL, the one byte ``S`` drops)."""
    values = dataset[()]
    return values.astype("S") if len(values) else values


class _PieceReader:
    """One rank's pieces, read one at a time, handed out block by block.

    A piece's object table is read whole (a few thousand rows); its light
    curves are read in windows of whole blocks of at most ``window_points``
    points (at least one block), so the join holds ``window_points`` per rank.
    """

    def __init__(self, paths, block_objects, window_points=1_000_000):
        self.paths = list(paths)
        self.block_objects = block_objects
        self.window_points = window_points
        self.next_piece = 0
        self.piece = None
        self.window = (0, 0, None)

    def _load(self):
        path = self.paths[self.next_piece]
        self.next_piece += 1
        try:
            with h5py.File(path, "r") as f:
                if f.attrs.get("format") != PART_FORMAT:
                    raise InputError(f"part file {path!r} is not a prepare part")
                o, r = f["objects"], f["rejects"]
                piece = {name: o[name][()] for name in ("index", "period", "period_power",
                                                        "length")}
                for name in TEXT_COLUMNS:
                    piece[name] = _utf8(o[name])
                piece["extra"] = {name: (_utf8(d) if d.dtype.kind == "O" else d[()])
                                  for name, d in o["extra"].items()}
                piece["rejects"] = (r["index"][()], r["row"][()],
                                    r["id"].asstr()[()].astype(object),
                                    r["reason"].asstr()[()].astype(object))
        except OSError as exc:
            raise InputError(f"part file {path!r} is unreadable: {exc}") from None
        piece["offset"] = np.concatenate([[0], np.cumsum(piece["length"])]).astype(np.int64)
        piece["block"] = piece["index"] // self.block_objects
        piece["reject_block"] = piece["rejects"][0] // self.block_objects
        piece["path"] = path
        self.piece = piece
        self.window = (0, 0, None)

    def _points(self, a, b):
        """Light-curve arrays of the piece's points ``a:b``, read by windows."""
        lo, hi, arrays = self.window
        # arrays is None before the first read: a first block whose objects
        # were all rejected asks for points 0:0 of an unread window.
        if arrays is None or not lo <= a <= b <= hi:
            p = self.piece
            ends = p["offset"][np.searchsorted(p["block"], p["block"], side="right")]
            fits = ends[(ends >= b) & (ends <= a + max(self.window_points, b - a))]
            hi = int(fits.max()) if len(fits) else b
            with h5py.File(p["path"], "r") as f:
                arrays = tuple(f["lightcurves"][name][a:hi] for name in ("time", "mag", "err"))
            lo = a
            self.window = (lo, hi, arrays)
        return tuple(values[a - lo:b - lo] for values in arrays)

    def block(self, block):
        """``(objects dict, lightcurve arrays, rejects tuple)`` of ``block``."""
        while self.piece is None or (
                not np.any(self.piece["block"] >= block)
                and not np.any(self.piece["reject_block"] >= block)):
            if self.next_piece >= len(self.paths):
                return None
            self._load()
        p = self.piece
        lo, hi = np.searchsorted(p["block"], [block, block + 1])
        rlo, rhi = np.searchsorted(p["reject_block"], [block, block + 1])
        objects = {name: p[name][lo:hi] for name in
                   ("index", "period", "period_power", "length") + TEXT_COLUMNS}
        objects["extra"] = {name: values[lo:hi] for name, values in p["extra"].items()}
        points = self._points(int(p["offset"][lo]), int(p["offset"][hi]))
        rejects = tuple(values[rlo:rhi] for values in p["rejects"])
        return objects, points, rejects


def piece_totals(paths):
    """``(objects, points, rejects)`` summed over pieces (reads only their sizes)."""
    objects = points = rejects = 0
    for path in paths:
        with h5py.File(path, "r") as f:
            objects += len(f["objects/index"])
            points += len(f["lightcurves/time"])
            rejects += len(f["rejects/index"])
    return objects, points, rejects


class _Appender:
    """Appends to a fixed-size HDF5 column in whole chunks (bounded memory)."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.chunk = dataset.chunks[0]
        self.pending = []
        self.n_pending = 0
        self.written = 0

    def add(self, values):
        if len(values):
            self.pending.append(values)
            self.n_pending += len(values)
        if self.n_pending >= self.chunk:
            self._write(final=False)

    def _write(self, final):
        values = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        n = len(values) if final else (len(values) // self.chunk) * self.chunk
        self.dataset[self.written:self.written + n] = values[:n]
        self.written += n
        rest = values[n:]
        self.pending = [rest] if len(rest) else []
        self.n_pending = len(rest)

    def close(self):
        if self.n_pending:
            self._write(final=True)
        if self.written != len(self.dataset):
            raise RuntimeError(f"{self.dataset.name}: wrote {self.written} of "
                               f"{len(self.dataset)} values")


def check_free_space(output, paths, margin=1.1):
    """Refuse to start the join when the disk cannot hold the dataset.

    HDF5 crashes the process when the disk fills during a write, so the join
    checks first that at least ``margin`` x the size of the pieces (written
    uncompressed; the dataset is gzip-compressed, so smaller) is free.
    """
    need = int(margin * sum(os.path.getsize(p) for p in paths)) + (1 << 20)
    directory = os.path.dirname(os.path.abspath(output))
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    if free < need:
        raise InputError(f"cannot write {os.fspath(output)!r}: No space left on device "
                         f"(about {need / 2**20:.0f} MiB needed, {free / 2**20:.0f} MiB free; "
                         "nothing was written; free some space and run again)")


def join_parts(handle, pieces_by_rank, n_catalog, block_objects, extra_dtypes,
               column, reject_sink, on_block=None):
    """Stream every rank's pieces into the open dataset file ``handle``.

    Parameters
    ----------
    handle : h5py.File
        The new dataset (attributes already set).
    pieces_by_rank : list of list of str
        Piece paths of each rank, in the order written.
    n_catalog, block_objects : int
        Catalog objects and objects per block (defines the block order).
    extra_dtypes : dict of str to dtype
    column : callable
        ``column(group, name, n, dtype) -> h5py.Dataset``: creates one
        fixed-size column of the dataset layout.
    reject_sink : callable
        Called with ``(row, id, reason)`` arrays of each block's rejects,
        in catalog order.

    Returns
    -------
    int
        Objects written.
    """
    n_objects, n_points, _ = piece_totals([p for paths in pieces_by_rank for p in paths])
    g = handle.create_group("objects")
    columns = {name: _Appender(column(g, name, n_objects, STR)) for name in TEXT_COLUMNS}
    for name in FLOAT_COLUMNS:
        columns[name] = _Appender(column(g, name, n_objects, np.float64))
    for name in ("offset", "length"):
        columns[name] = _Appender(column(g, name, n_objects, np.int64))
    xg = g.create_group("extra")
    extras = {name: _Appender(column(xg, name, n_objects, dtype))
              for name, dtype in extra_dtypes.items()}
    lg = handle.create_group("lightcurves")
    points = {name: _Appender(column(lg, name, n_points, dtype)) for name, dtype in
              (("time", np.float64), ("mag", np.float32), ("err", np.float32))}
    size = len(pieces_by_rank)
    window = max(JOIN_POINTS // size, 1)
    readers = [_PieceReader(paths, block_objects, window) for paths in pieces_by_rank]
    written = offset = 0
    for block in range(-(-n_catalog // block_objects)):
        if on_block is not None:
            on_block(block)
        found = readers[block_owner(block, size)].block(block)
        if found is None:
            raise InputError(f"block {block} of the catalog is missing from the part files")
        objects, lightcurves, rejects = found
        expected = min(block_objects, n_catalog - block * block_objects)
        if len(objects["index"]) + len(rejects[0]) != expected:
            raise InputError(f"block {block}: {len(objects['index'])} kept and "
                             f"{len(rejects[0])} rejected objects, expected {expected}")
        for name in TEXT_COLUMNS + FLOAT_COLUMNS + ("length",):
            columns[name].add(objects[name])
        columns["offset"].add(offset + np.concatenate(
            [[0], np.cumsum(objects["length"])[:-1]]).astype(np.int64)
            if len(objects["length"]) else np.zeros(0, np.int64))
        offset += int(objects["length"].sum())
        for name, appender in extras.items():
            appender.add(objects["extra"][name])
        for name, values in zip(("time", "mag", "err"), lightcurves):
            points[name].add(values)
        reject_sink(rejects[1], rejects[2], rejects[3])
        written += len(objects["index"])
    for appender in [*columns.values(), *extras.values(), *points.values()]:
        appender.close()
    return written
