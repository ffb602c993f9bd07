"""Copy a finished run directory into ``pretrained/`` without machine-local paths.

A run records where it was made: the dataset path, ``--log_dir``,
``--init_from``, and the ``prepare``/``train`` command lines with their
catalogs and light-curve folders. Shipped, those name directories of the
build machine (``/tmp/...``, ``/home/...``) that mean nothing elsewhere. Here
every absolute path in ``config.json`` and in ``gmm.h5``'s provenance becomes
``<local>/`` + its base name (``/tmp/w/crts8.h5`` -> ``<local>/crts8.h5``),
a program's path its name (``/x/.venv/bin/rnngmm`` -> ``rnngmm``); every
other value stays as it is, so the model loads and flags identically.

    .venv/bin/python benchmarks/ship_run.py RUN_DIR pretrained/NAME

Used by ``benchmarks/make_pretrained.sh``; ``tests/test_pretrained.py``
checks that the shipped runs hold no machine-local path.
"""

import argparse
import json
import os
import re
import shutil
import sys

#: Placeholder for the directory of a machine-local path.
LOCAL = "<local>"
#: Files a shipped run holds (``MODEL_CARD.md`` is written by hand).
RUN_FILES = ("model.keras", "gmm.h5", "config.json", "split.json", "training.csv",
             "rejects.ecsv")
#: An absolute POSIX path or one with a drive letter (``C:\\``, ``D:/``).
_ABSOLUTE = re.compile(r"^(/[^\s/]|[A-Za-z]:[\\/])")
#: gmm.h5 attributes that record how the run was made.
GMM_PROVENANCE = ("command", "inputs")


def is_absolute(text):
    """True if ``text`` is an absolute path of any machine (POSIX or Windows)."""
    return bool(_ABSOLUTE.match(text))


def _base_name(path):
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


def portable_path(text):
    """``<local>/<base name>`` for an absolute path; anything else unchanged."""
    if not is_absolute(text):
        return text
    name = _base_name(text)
    return f"{LOCAL}/{name}" if name else LOCAL


def portable_command(command):
    """A recorded command line with its program by name and its paths portable.

    Tokens are separated by single spaces, as the run recorded them;
    ``--flag=/abs/path`` keeps its flag.
    """
    tokens = command.split(" ")
    out = []
    for k, token in enumerate(tokens):
        flag, equals, value = token.partition("=")
        if k == 0 and is_absolute(token):
            out.append(_base_name(token))
        elif equals and flag.startswith("-") and is_absolute(value):
            out.append(f"{flag}={portable_path(value)}")
        else:
            out.append(portable_path(token))
    return " ".join(out)


def _portable_text(text):
    """A string value: embedded JSON, a command line, a path, or plain text."""
    stripped = text.strip()
    if stripped[:1] in "{[" and stripped[-1:] in "}]":
        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            # provenance stores JSON as json.dumps wrote it: same spacing, same order
            return json.dumps(portable_value(value))
    if " " in text and any(is_absolute(token) for token in text.split(" ")):
        return portable_command(text)
    return portable_path(text)


def portable_value(value):
    """``value`` (a config's JSON tree) with every machine-local path made portable."""
    if isinstance(value, str):
        return _portable_text(value)
    if isinstance(value, list):
        return [portable_value(v) for v in value]
    if isinstance(value, dict):
        return {k: portable_value(v) for k, v in value.items()}
    return value


def portable_config(config):
    """A run's ``config.json`` content without machine-local paths.

    Parameters
    ----------
    config : dict

    Returns
    -------
    dict
        Same keys; only strings holding absolute paths differ.
    """
    return portable_value(config)


def write_config(path, config):
    """Write ``config.json`` as ``rnngmm train`` does (indent 2, sorted keys)."""
    with open(path, "w") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
        handle.write("\n")


def portable_gmm(path):
    """Make ``gmm.h5``'s provenance attributes portable, in place (data untouched)."""
    import h5py
    with h5py.File(path, "r+") as handle:
        for name in GMM_PROVENANCE:
            value = handle.attrs.get(name)
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if isinstance(value, str):
                new = _portable_text(value)
                if new != value:
                    handle.attrs[name] = new


def ship_run(run_dir, dest):
    """Copy the run files of ``run_dir`` to ``dest`` with portable paths.

    ``MODEL_CARD.md`` in ``dest`` is kept (it is written by hand).

    Returns
    -------
    list of str
        The files written.
    """
    os.makedirs(dest, exist_ok=True)
    written = []
    for name in RUN_FILES:
        source = os.path.join(run_dir, name)
        if not os.path.isfile(source):
            if name in ("model.keras", "gmm.h5", "config.json", "split.json"):
                raise SystemExit(f"{source} is missing: is the run finished?")
            continue
        target = os.path.join(dest, name)
        if name == "config.json":
            with open(source) as handle:
                write_config(target, portable_config(json.load(handle)))
        else:
            shutil.copyfile(source, target)
            if name == "gmm.h5":
                portable_gmm(target)
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="finished run directory (rnngmm train)")
    parser.add_argument("dest", help="where to ship it, e.g. pretrained/crts8-v1")
    args = parser.parse_args(argv)
    for path in ship_run(args.run_dir, args.dest):
        print(f"shipped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
