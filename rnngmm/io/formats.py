"""File formats from file names, and compressed files read like plain ones.

Archives ship tables compressed (``lightcurves.csv.gz``, ``ztf_1_r.tbl.gz``):
a name ending in ``.gz``, ``.bz2`` or ``.xz`` is decompressed on reading and
its format is decided from the name without that suffix, so
``stars.csv.gz`` reads as CSV and ``ztf_1_r.tbl.xz`` as an IPAC table.
"""

import bz2
import gzip
import lzma
import os

#: Compression suffixes (lower case) and the module that opens each.
COMPRESSIONS = {".gz": gzip, ".bz2": bz2, ".xz": lzma}
#: astropy format (or ``"parquet"``) of each file-name suffix, compression
#: suffix removed; any other suffix: astropy guesses.
FORMATS_BY_SUFFIX = {
    ".csv": "ascii.csv", ".ecsv": "ascii.ecsv",
    # IPAC tables: what IRSA's services (e.g. ZTF light curves) return
    ".tbl": "ascii.ipac", ".ipac": "ascii.ipac",
    ".fits": "fits", ".fit": "fits", ".fts": "fits",
    ".vot": "votable", ".votable": "votable", ".xml": "votable",
    ".parquet": "parquet", ".pq": "parquet",
}


def split_compression(path):
    """``(name without its compression suffix, suffix)``; suffix ``""`` if none.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    name : str
    suffix : str
        ``".gz"``, ``".bz2"``, ``".xz"`` (lower case) or ``""``.
    """
    name = os.fspath(path)
    lowered = name.lower()
    for suffix in COMPRESSIONS:
        if lowered.endswith(suffix):
            return name[:-len(suffix)], suffix
    return name, ""


def is_compressed(path):
    """True if ``path``'s name ends in a compression suffix."""
    return bool(split_compression(path)[1])


def guess_format(path):
    """astropy format name (or ``"parquet"``) of ``path`` from its suffix.

    The compression suffix is ignored: ``a.csv.gz`` gives ``"ascii.csv"``.

    Returns
    -------
    str or None
        None when the suffix is not known (astropy then guesses).
    """
    name = split_compression(path)[0].lower()
    for suffix, fmt in FORMATS_BY_SUFFIX.items():
        if name.endswith(suffix):
            return fmt
    return None


def open_binary(path):
    """``path`` opened for reading bytes, decompressed when its name says so."""
    suffix = split_compression(path)[1]
    if suffix:
        return COMPRESSIONS[suffix].open(os.fspath(path), "rb")
    return open(path, "rb")


def parquet_source(path):
    """What pyarrow reads ``path`` from: the path, or its decompressed bytes.

    Parquet files compress their own pages, so a compressed one is rare and
    small enough to hold in memory. The buffer can be read several times
    (schema, then rows).
    """
    if not is_compressed(path):
        return path
    import pyarrow as pa
    with open_binary(path) as handle:
        return pa.py_buffer(handle.read())
