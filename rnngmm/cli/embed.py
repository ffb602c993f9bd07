"""``rnngmm embed``: the latent code of every object of a catalog.

A thin command over ``rnngmm flag``: the same flags (its parser is used as
the parent of this one, so the two never drift apart) and the same
:class:`~rnngmm.flagging.job.FlagConfig` with ``with_code=True``, run by the
same MPI-aware job. The output IS the flag table with the code columns
``code_0 .. code_{E-1}``; it runs under ``mpirun``/``srun`` exactly like
``flag`` and feeds ``rnngmm similar`` and ``rnngmm map``.
"""

import argparse
from dataclasses import replace

from rnngmm.cli import flag


def _flag_parser():
    """A throwaway ``rnngmm flag`` parser, used as the parent of ``embed``'s."""
    holder = argparse.ArgumentParser(prog="rnngmm", add_help=False)
    return flag.add_parser(holder.add_subparsers())


def add_parser(subparsers):
    """Register ``embed`` with every flag of ``rnngmm flag``."""
    parent = _flag_parser()
    for action in parent._actions:  # codes are always written: the flag is moot
        if action.dest == "with_code":
            action.help = argparse.SUPPRESS
        elif action.dest == "output":
            action.help = ("output table: .ecsv, .fits, .csv, .h5 or .parquet (written "
                           "atomically): the flag table of 'rnngmm flag' plus the columns "
                           "code_0 ... code_{E-1} (mean latent code of each object over its "
                           "chunks; NaN where status is not 'ok'); required")
    p = subparsers.add_parser(
        "embed", parents=[parent], add_help=False,
        help="write the latent code of every catalog object (input of similar and map)",
        description="Run a trained network over every object of a catalog and write its "
                    "mean latent code (columns code_0 ... code_{E-1}). The output is the "
                    "flag table of 'rnngmm flag --with_code' (classes, energies, anomaly "
                    "flags and the codes; one row per catalog row, in catalog order), "
                    "and every flag means what it means there. Runs under mpirun/srun "
                    "like flag. Use the table with 'rnngmm similar' and 'rnngmm map'. With "
                    "several bands (--band g r) each star's code is the mean over all "
                    "its bands' chunks.")
    p.set_defaults(run=run_command)
    return p


def config_from_args(args):
    """The :class:`~rnngmm.flagging.job.FlagConfig` of ``flag`` with ``with_code=True``."""
    return replace(flag.config_from_args(args), with_code=True)


def run_command(args):
    """Entry point of ``rnngmm embed``: ``rnngmm flag --with_code`` under MPI."""
    from rnngmm.flagging.job import run_flag_job
    config = config_from_args(args)
    config.validate()
    return run_flag_job(config)
