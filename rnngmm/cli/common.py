"""Flags shared by several subcommands, in one spelling, and deprecated aliases.

The vocabulary is the same everywhere: ``--output`` names what a command
writes, ``--pass_through COL [COL ...]`` copies catalog columns, and every
list flag takes space-separated values. Old spellings keep working as
aliases that print a deprecation warning naming the new one.
"""

import argparse
import warnings


def _warn(old, new):
    warnings.warn(f"{old} is deprecated; use {new}", FutureWarning, stacklevel=3)
    # warnings may be filtered; a cluster user reading a log should still see it
    import sys
    print(f"rnngmm: warning: {old} is deprecated; use {new}", file=sys.stderr, flush=True)


class DeprecatedAlias(argparse.Action):
    """Store like the new flag, after warning that the old spelling is deprecated."""

    def __init__(self, option_strings, dest, new_flag=None, convert=None, **kwargs):
        self.new_flag = new_flag
        self.convert = convert
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        _warn(option_string, self.new_flag)
        setattr(namespace, self.dest, self.convert(values) if self.convert else values)


def add_deprecated(group, old, new, dest, convert=None, **kwargs):
    """Register ``old`` as a hidden, warning alias of ``new`` (same ``dest``)."""
    group.add_argument(old, dest=dest, action=DeprecatedAlias, new_flag=new,
                       convert=convert, help=argparse.SUPPRESS, **kwargs)


def comma_list(text):
    """``"a, b,c" -> ["a", "b", "c"]`` (the old comma-separated list style)."""
    return [part.strip() for part in str(text).split(",") if part.strip()]


def add_pass_through(group, help_text):
    """``--pass_through COL [COL ...]`` and its old spelling ``--extra_cols a,b``."""
    group.add_argument("--pass_through", nargs="+", default=[], metavar="COL", help=help_text)
    add_deprecated(group, "--extra_cols", "--pass_through COL [COL ...]", "pass_through",
                   convert=comma_list)


def add_logging_flags(parser):
    """``--quiet``, ``--verbose`` and ``--log_all_ranks`` (see :mod:`rnngmm.log`)."""
    group = parser.add_argument_group("messages")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="only warnings and errors")
    group.add_argument("--verbose", "-v", action="store_true",
                       help="debug messages, and TensorFlow's own start-up lines")
    group.add_argument("--log_all_ranks", action="store_true",
                       help="every MPI rank logs (default: rank 0 only), each line "
                            "prefixed with its rank")
    return group


def reader_flag_values(args):
    """``band``, ``filter`` and ``zero_point`` of parsed flags as reader options
    take them (see :func:`band_value`, :func:`zero_point_value`)."""
    return {"band": band_value(getattr(args, "band", None)),
            "filter": band_value(getattr(args, "filter", None)),
            "zero_point": zero_point_value(getattr(args, "zero_point", None))}


def add_reader_flags(group, several_bands=True):
    """Band and flux flags of the table, ztf and gaia light-curve formats.

    ``--band`` takes one or several values (a list; see :func:`band_value`).
    ``several_bands=False`` (``prepare``) says in its help that one band is read.
    """
    from rnngmm.io.readers import ONE_BAND_NOTE
    if several_bands:
        band_help = ("band(s) to read: one (e.g. r or zr for ztf, G for gaia, V for "
                     "asassn) keeps that band's rows, and a light curve holding several "
                     "bands is refused without it; several (--band g r, --band G BP RP, "
                     "--band V g) score a star's bands together in one row, from one file "
                     "holding them or one file per band (a {band} field in --template, "
                     "e.g. '{id}_{band}.tbl'); ztf: g means zg")
    else:
        band_help = ("keep only this band's rows (e.g. zr or r for ztf, G/BP/RP for gaia, "
                     "V for asassn); a light curve holding several bands is refused without "
                     "it. One value: " + ONE_BAND_NOTE)
    group.add_argument("--band_col", default=None,
                       help="band column of --format table files (default: a column named "
                            "band, filter, filtercode or passband, if any; ztf: filtercode)")
    group.add_argument("--band", nargs="+", default=None, metavar="BAND", help=band_help)
    group.add_argument("--flux_col", default=None,
                       help="flux column: read fluxes instead of magnitudes (with "
                            "--flux_err_col and --zero_point); non-positive fluxes are dropped")
    group.add_argument("--flux_err_col", default=None, help="flux error column")
    group.add_argument("--zero_point", type=float, nargs="+", default=None, metavar="ZP",
                       help="magnitude of unit flux: m = zero_point - 2.5 log10(flux), e.g. "
                            "25.0; one value for every band, or one per --band value; gaia "
                            "default: each band's Vega zero point (G 25.6874)")


def band_value(values):
    """The reader option of ``--band``/``--filter`` values: None, one name (str,
    exactly as a single band is read) or a tuple of several names in order."""
    if values is None or isinstance(values, str):
        return values
    values = tuple(values)
    return values[0] if len(values) == 1 else values


def zero_point_value(values):
    """``--zero_point`` values: None, one float (every band) or a tuple (one per band)."""
    if values is None or not isinstance(values, (list, tuple)):
        return values
    return values[0] if len(values) == 1 else tuple(values)


def add_lightcurve_source_flags(parser, source_title):
    """Where light curves come from, as ``flag``, ``embed`` and ``report`` read them.

    Adds the ``--catalog/--lightcurves/--format/--template/--data`` group and
    the column flags (ids, periods, table columns, band and flux).

    Returns
    -------
    argparse._ArgumentGroup
        The "columns" group, for command-specific column flags.
    """
    from rnngmm.io.readers import READERS
    src = parser.add_argument_group(source_title)
    src.add_argument("--catalog", default=None,
                     help="catalog file (CSV, ECSV, FITS, VOTable, Parquet)")
    src.add_argument("--catalog_format", default=None,
                     help="astropy format of the catalog (default: from its suffix)")
    src.add_argument("--lightcurves", default=None,
                     help="directory of per-object light-curve files, or one table "
                          "(--format table, ztf or gaia) holding every object; a Parquet "
                          "table is read per shard, only the rows of its objects")
    src.add_argument("--format", default="asassn", choices=sorted(READERS),
                     help="light-curve format (default: %(default)s)")
    src.add_argument("--template", default=None,
                     help="light-curve file name with {id}, e.g. '{id}.dat' "
                          "(default: per format); with {band} too, one file per band, "
                          "e.g. '{id}_{band}.tbl' with --band g r")
    src.add_argument("--data", default=None,
                     help="prepared HDF5 dataset ('rnngmm prepare') instead of "
                          "--catalog/--lightcurves")
    cols = parser.add_argument_group("columns")
    cols.add_argument("--id_col", default="id", help="catalog id column (default: %(default)s)")
    cols.add_argument("--period_col", default=None,
                      help="catalog period column in days (default: 'period' when the "
                           "catalog has one); missing or unusable periods are searched "
                           "with Lomb-Scargle")
    cols.add_argument("--time_col", default=None,
                      help="time column (--format table: default time; ztf: mjd)")
    cols.add_argument("--mag_col", default=None,
                      help="magnitude column (--format table/ztf: default mag)")
    cols.add_argument("--err_col", default=None,
                      help="error column (--format table: default err; ztf: magerr)")
    cols.add_argument("--lc_id_col", default=None,
                      help="id column of a single light-curve table (default: --id_col)")
    cols.add_argument("--filter", nargs="+", default=None, metavar="FILTER",
                      help="--format asassn: an alias of --band (e.g. --filter V g)")
    add_reader_flags(cols)
    return cols
