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
