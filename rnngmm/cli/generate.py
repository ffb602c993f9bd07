"""``rnngmm generate``: synthetic light curves of a run's classes at a catalog's cadence."""

import logging
import sys

from rnngmm.dist import init_mpi
from rnngmm.cli.common import add_logging_flags
from rnngmm.cli.score import raise_everywhere

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register the ``generate`` subcommand."""
    p = subparsers.add_parser(
        "generate",
        help="re-observe a run's training objects at a new catalog's cadence (a dataset)",
        description="Decode the latent codes of a run's training objects at the sampling "
                    "times of random objects of another prepared dataset (--times_from), "
                    "add noise from those objects' errors, and write the synthetic light "
                    "curves as a dataset in the format of 'rnngmm prepare' (labels: the "
                    "source objects' classes; ids name the source and pattern objects). "
                    "Classes are balanced: --n is split evenly between them. Runs in "
                    "parallel under mpirun/srun (objects dealt to ranks, rank 0 writes); "
                    "the file does not depend on the number of ranks.")
    p.add_argument("--run_dir", required=True, help="a finished run directory")
    p.add_argument("--data", default=None,
                   help="the run's training dataset (default: the path its config.json "
                        "records)")
    p.add_argument("--times_from", required=True, metavar="CATALOG.h5",
                   help="prepared dataset of the new survey: each synthetic object takes "
                        "the epochs and errors of one of its objects, drawn at random")
    p.add_argument("--class", dest="classes", nargs="+", default=None, metavar="C",
                   help="classes of the source objects (default: every class of the run)")
    p.add_argument("--n", type=int, required=True, help="synthetic objects to write")
    p.add_argument("--output", required=True, metavar="OUT.h5",
                   help="the synthetic dataset to write")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of every random choice (default: %(default)s)")
    p.add_argument("--min_points", type=int, default=None,
                   help="fewest points of a sampling pattern (default: the run's n_min for "
                        "scoring; lower values give objects the run itself does not score)")
    p.add_argument("--batch_size", type=int, default=512,
                   help="chunks per forward pass (default: %(default)s)")
    add_logging_flags(p)
    p.set_defaults(run=run)
    return p


def config_from_args(args):
    """The validated :class:`~rnngmm.decoder.generate.GenerateConfig` of the flags."""
    from rnngmm.decoder.generate import GenerateConfig
    return GenerateConfig(run_dir=args.run_dir, times_from=args.times_from,
                          output=args.output, n=args.n, data=args.data,
                          classes=args.classes, seed=args.seed,
                          batch_size=args.batch_size,
                          min_points=args.min_points).validate()


def run(args):
    """Execute ``rnngmm generate``; returns the exit code."""
    config = config_from_args(args)
    dist = init_mpi()
    from rnngmm.errors import InputError
    from rnngmm.decoder.generate import run_generate
    try:
        run_generate(config, dist)
    except Exception as exc:  # one failing rank must not leave the others waiting
        if dist.size > 1:
            if isinstance(exc, InputError):
                print(f"rnngmm generate: error: {exc}", file=sys.stderr, flush=True)
                dist.abort(2)
            raise_everywhere(dist)
        raise
    return 0
