"""The run directory ``<log_dir>/<sim_type>/<run_id>/`` and its metadata files."""

import csv
import json
import os
import platform
from collections import Counter
from importlib import metadata

import numpy as np

from .. import __version__
from ..errors import InputError
from ..io.atomic import atomic_path

#: Libraries whose versions are recorded in config.json.
_LIBRARIES = ("tensorflow", "tensorflow-cpu", "keras", "horovod", "numpy", "h5py",
              "astropy", "scikit-learn", "mpi4py")


def run_id(args, model_config):
    """Run name encoding the main hyper-parameters (or ``--run_name``).

    ``model_config`` holds the resolved model hyper-parameters (flags over
    the named configuration).

    Like the reference implementation's ids, e.g.
    ``gru_096_x2_emb16_drop2.5e-01_n200_lr1.0e-03_gmm_lam1.0e-01``.
    """
    if getattr(args, "run_name", None):
        return args.run_name
    c = model_config
    parts = [f"{c['model_type']}", f"{c['size']:03d}", f"x{c['num_layers']}",
             f"emb{c['embedding']}", f"drop{c['drop_frac']:.1e}", f"n{c['n_max']}",
             f"lr{args.lr:.1e}", f"bs{args.batch_size}"]
    if c["bidirectional"]:
        parts.append("bidir")
    if args.period_fold:
        parts.append("pf")
    parts.append("gmm" if args.gmm_on else "seq")
    parts.append(f"lam{c['lambda1']:.1e}")
    parts.append(f"est{'-'.join(str(s) for s in c['estnet_size'])}")
    if args.novel_classes:
        parts.append("novel-" + "-".join(args.novel_classes))
    return "_".join(parts).replace("/", "-").replace(" ", "")


def run_directory(args, model_config):
    """``<log_dir>/<sim_type>/<run_id>`` for the parsed flags."""
    return os.path.join(args.log_dir, args.sim_type, run_id(args, model_config))


def library_versions():
    """Package, Python and library versions (absent libraries omitted)."""
    versions = {"rnngmm": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def write_json(path, content):
    """Write ``content`` as indented JSON, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(_jsonable(content), f, indent=2, sort_keys=True)
        f.write("\n")


def read_json(path):
    """Read a JSON file, with an :class:`InputError` naming it if unusable."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not readable JSON: {exc}") from None


def write_split(path, split, ids, seed):
    """split.json: object ids of every part of the split, and its seed."""
    content = {name: [str(ids[i]) for i in indices] for name, indices in split.items()}
    content["seed"] = int(seed)
    write_json(path, content)


def write_rejects(path, rejects, ids, labels):
    """rejects.ecsv: id, label and reason of every object that gave no chunk."""
    from astropy.table import Table
    rows = sorted(rejects)
    table = Table({"id": [str(ids[i]) for i, _ in rows],
                   "label": [str(labels[i]) for i, _ in rows],
                   "reason": [str(r) for _, r in rows]},
                  dtype=[str, str, str])
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def summarise_rejects(rejects):
    """One line per reason, most frequent first (for printing)."""
    counts = Counter(reason for _, reason in rejects)
    return [f"{n:7d}  {reason}" for reason, n in counts.most_common()]


def write_history(path, rows):
    """training.csv: one row per epoch, columns in first-seen order."""
    columns = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def read_history(path):
    """Rows of training.csv (empty list if absent), numbers as floats."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        parsed = {}
        for key, value in row.items():
            try:
                parsed[key] = float(value) if key not in ("stage",) else value
            except (TypeError, ValueError):
                parsed[key] = value
        out.append(parsed)
    return out
