"""``rnngmm simulate``: write an ASAS-SN-like labelled sample (light curves + catalog)."""

import logging
import os
import re
import time

from rnngmm.errors import InputError
from rnngmm.simulate import (CLASSES, NOVEL_CLASSES, SIMULATORS, simulate_bands_sample,
                             simulate_sample, write_bands_sample, write_sample)
from rnngmm.cli.common import add_logging_flags


def add_parser(subparsers):
    """Register the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate ASAS-SN-like labelled light curves",
        description="Write OUTPUT/lightcurves/<id>.csv (ASAS-SN light-curve CSV, read by "
                    "'rnngmm prepare --format asassn') and OUTPUT/catalog.csv (id, class, "
                    "period, mean_mag, amplitude, class_prob, n_rows). Same seed, same sample. "
                    "With --bands, simultaneous light curves in several bands instead: "
                    "OUTPUT/lightcurves/<id>.csv with columns time, mag, err, band (read by "
                    "--format table --band g r), or <id>_<band>.csv per band with "
                    "--per_band_files; each band its own epochs, class-dependent amplitude "
                    "ratios and colours; the catalog adds mean_mag_<b>, amplitude_<b>, "
                    "n_points_<b>.")
    p.add_argument("--output", required=True,
                   help="directory to write into (created if missing)")
    p.add_argument("--n_per_class", type=int, default=150,
                   help="objects per known class (default: %(default)s)")
    p.add_argument("--n_novel", type=int, default=100,
                   help="objects per novel class (default: %(default)s)")
    p.add_argument("--classes", default=",".join(CLASSES),
                   help="comma-separated known classes (default: %(default)s)")
    p.add_argument("--novel_classes", default=",".join(NOVEL_CLASSES),
                   help="comma-separated classes meant to be held out as novel "
                        "(default: %(default)s; empty for none)")
    p.add_argument("--min_points", type=int, default=100,
                   help="fewest V-band exposures per star; with --bands, per band "
                        "(default: %(default)s)")
    p.add_argument("--max_points", type=int, default=400,
                   help="most V-band exposures per star; with --bands, per band "
                        "(default: %(default)s)")
    p.add_argument("--bands", nargs="+", default=None, metavar="BAND",
                   help="simulate these bands at once (e.g. g r, or G BP RP) instead of the "
                        "ASAS-SN sample; known names (u B g BP V r G R i RP I z y J H K) take "
                        "their wavelength, others 450-900 nm in the order given")
    p.add_argument("--per_band_files", action="store_true",
                   help="with --bands: one file per star and band, <id>_<band>.csv, instead "
                        "of one file holding a band column")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    add_logging_flags(p)
    p.set_defaults(run=run)
    return p


def _class_list(text, flag):
    names = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in names if c not in SIMULATORS]
    if unknown:
        raise InputError(f"{flag}: unknown class(es) {', '.join(unknown)}; "
                         f"known: {', '.join(SIMULATORS)}")
    return names


#: Band names written into file names: letters, digits, '_', '-', '+'.
_BAND_NAME = re.compile(r"^[A-Za-z0-9_+-]+$")


def _band_list(bands, per_band_files):
    """The --bands names, checked; None for the default ASAS-SN sample."""
    if bands is None:
        if per_band_files:
            raise InputError("--per_band_files needs --bands (e.g. --bands g r)")
        return None
    bad = [b for b in bands if not _BAND_NAME.match(b)]
    if bad:
        raise InputError(f"--bands: {', '.join(map(repr, bad))} is not a band name "
                         "(letters, digits, '_', '-', '+')")
    repeated = sorted({b for b in bands if bands.count(b) > 1})
    if repeated:
        raise InputError(f"--bands: {', '.join(repeated)} given more than once")
    return tuple(bands)


def run(args):
    """Run ``rnngmm simulate``; returns the exit code."""
    classes = _class_list(args.classes, "--classes")
    novel = _class_list(args.novel_classes, "--novel_classes")
    if args.n_per_class < 0 or args.n_novel < 0:
        raise InputError("--n_per_class and --n_novel must be >= 0")
    if not 2 <= args.min_points <= args.max_points:
        raise InputError("need 2 <= --min_points <= --max_points")
    bands = _band_list(args.bands, args.per_band_files)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(f"--output {args.output!r} exists and is not a directory")
    os.makedirs(args.output, exist_ok=True)
    start = time.perf_counter()
    if bands is None:
        n = write_sample(simulate_sample(args.n_per_class, args.n_novel, args.seed, classes,
                                         novel, args.min_points, args.max_points), args.output)
    else:
        n = write_bands_sample(simulate_bands_sample(args.n_per_class, args.n_novel, bands,
                                                     args.seed, classes, novel,
                                                     args.min_points, args.max_points),
                               args.output, bands, per_band_files=args.per_band_files)
    in_bands = f" in bands {', '.join(bands)}" if bands else ""
    logging.getLogger(__name__).info(f"simulated {n} objects{in_bands} ({args.n_per_class} per class of {', '.join(classes)}; "
          f"{args.n_novel} per novel class {', '.join(novel) or '(none)'}) into "
          f"{args.output} in {time.perf_counter() - start:.1f} s")
    return 0
