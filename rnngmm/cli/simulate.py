"""``rnngmm simulate``: write an ASAS-SN-like labelled sample (light curves + catalog)."""

import logging
import os
import time

from rnngmm.errors import InputError
from rnngmm.simulate import CLASSES, NOVEL_CLASSES, SIMULATORS, simulate_sample, write_sample
from rnngmm.cli.common import add_logging_flags


def add_parser(subparsers):
    """Register the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate ASAS-SN-like labelled light curves",
        description="Write OUTPUT/lightcurves/<id>.csv (ASAS-SN light-curve CSV, read by "
                    "'rnngmm prepare --format asassn') and OUTPUT/catalog.csv (id, class, "
                    "period, mean_mag, amplitude, class_prob, n_rows). Same seed, same sample.")
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
                   help="fewest V-band exposures per star (default: %(default)s)")
    p.add_argument("--max_points", type=int, default=400,
                   help="most V-band exposures per star (default: %(default)s)")
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


def run(args):
    """Run ``rnngmm simulate``; returns the exit code."""
    classes = _class_list(args.classes, "--classes")
    novel = _class_list(args.novel_classes, "--novel_classes")
    if args.n_per_class < 0 or args.n_novel < 0:
        raise InputError("--n_per_class and --n_novel must be >= 0")
    if not 2 <= args.min_points <= args.max_points:
        raise InputError("need 2 <= --min_points <= --max_points")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(f"--output {args.output!r} exists and is not a directory")
    os.makedirs(args.output, exist_ok=True)
    start = time.perf_counter()
    n = write_sample(simulate_sample(args.n_per_class, args.n_novel, args.seed, classes,
                                     novel, args.min_points, args.max_points), args.output)
    logging.getLogger(__name__).info(f"simulated {n} objects ({args.n_per_class} per class of {', '.join(classes)}; "
          f"{args.n_novel} per novel class {', '.join(novel) or '(none)'}) into "
          f"{args.output} in {time.perf_counter() - start:.1f} s")
    return 0
