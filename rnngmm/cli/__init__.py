"""The ``rnngmm`` command: one console script with a subcommand per stage.

Each stage's flags live in ``rnngmm/cli/<stage>.py`` (``add_parser`` and
``run``); this module only dispatches. argparse is used nowhere else.
"""

import argparse
import importlib
import sys

from rnngmm._version import __version__
from rnngmm.errors import InputError

#: Subcommands in pipeline order; each names a module of this package.
COMMANDS = ("simulate", "prepare", "train", "adapt", "score", "flag", "embed", "similar",
            "map", "report", "loco", "tune", "generate")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnngmm",
        description="Classify variable-star light curves with a recurrent "
                    "autoencoder + Gaussian mixture and flag novel objects.")
    parser.add_argument("--version", action="version", version=f"rnngmm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # stage not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``rnngmm`` console script; returns the exit code."""
    from rnngmm import log
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    # Before anything imports TensorFlow: its C++ start-up lines are noise.
    log.quiet_tensorflow(verbose="--verbose" in argv or "-v" in argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    log.configure(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False),
                  all_ranks=getattr(args, "log_all_ranks", False))
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"rnngmm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())


def console_main():
    """The ``rnngmm`` console script: :func:`main` with TensorFlow's native
    start-up lines filtered from stderr (unless ``--verbose``)."""
    from rnngmm import log
    argv = sys.argv[1:]
    if "--verbose" not in argv and "-v" not in argv:
        log.filter_native_stderr()
    return main(argv)
