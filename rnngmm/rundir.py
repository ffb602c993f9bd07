"""The run directory ``<log_dir>/<sim_type>/<run_id>/``: what it holds, writing, reading.

Training writes it (``config.json``, ``split.json``, ``training.csv``, ``rejects.ecsv``
through the writers here, ``model.keras`` and ``gmm.h5`` through their own
savers); :func:`load_run` reads a finished one back as a :class:`LoadedRun`
(configuration, model, mixture, split, and the preprocessing and chunking its
objects were prepared with). Scoring light curves with a loaded run belongs to
the layers above (:mod:`rnngmm.api`, the stages).
"""

import csv
import json
import os
import platform
from collections import Counter
from dataclasses import dataclass
from importlib import metadata

import keras
import numpy as np

from rnngmm._version import __version__
from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_path
from rnngmm.models import registry  # noqa: F401  (registers the model classes for loading)
from rnngmm.lightcurves.objects import (Chunking, Preprocessing, dataset_class_map,
                                        dataset_preprocessing)
from rnngmm.novelty.mixture import GMMNovelty

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
        multiple = int(getattr(args, "fold_multiple", 1))
        parts.append("pf" if multiple == 1 else f"pf{multiple}")
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


#: Files every finished run directory has.
REQUIRED = ("config.json", "split.json", "model.keras", "gmm.h5")


@dataclass
class LoadedRun:
    """A trained run: configuration, model, class names, novelty detector, split.

    Attributes
    ----------
    config : dict
        Contents of config.json.
    model : keras.Model
    class_names : list of str
        Class of each mixture component / gamma column.
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The whole-training-set mixture and training energies.
    split : dict
        Contents of split.json (object ids of train/validation/novel/...).
    chunking : rnngmm.lightcurves.objects.Chunking
        How objects are cut into network inputs when scored (training's, with
        ``n_min`` replaced by ``score_n_min`` when the run set one).
    run_dir : str
    run_id : str
    """

    config: dict
    model: object
    class_names: list
    novelty: object
    split: dict
    chunking: object
    run_dir: str
    run_id: str

    @property
    def preprocessing(self):
        """The :class:`rnngmm.lightcurves.objects.Preprocessing` of the run's training data.

        New objects (``flag``, the Python API) are cleaned and given periods
        with exactly these settings. Runs written before it was recorded
        take it from their dataset's provenance.
        """
        if "preprocessing" in self.config:
            settings = Preprocessing.from_dict(self.config["preprocessing"])
            score_min = self.config["chunking"].get("score_n_min")
            if score_min is not None and score_min < settings.min_points:
                # a run trained for sparse objects scores them (train --score_n_min)
                settings = Preprocessing.from_dict({**settings.to_dict(),
                                                    "min_points": int(score_min)})
            return settings
        settings = dataset_preprocessing((self.config.get("dataset") or {}).get("attrs", {}))
        clip = self.config["chunking"].get("sigma_clip")
        if clip is not None and settings.sigma_clip is None:  # old runs clipped in training
            settings = Preprocessing.from_dict({**settings.to_dict(), "sigma_clip": clip})
        return settings

    @property
    def class_map(self):
        """Catalog label -> run class, as the training dataset merged them (or None)."""
        if "class_map" in self.config:
            return self.config["class_map"]
        return dataset_class_map((self.config.get("dataset") or {}).get("attrs", {}))


def load_run(run_dir):
    """Load a run directory written by ``rnngmm train``.

    Raises
    ------
    InputError
        Naming the missing or unreadable file (e.g. an unfinished run).
    """
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise InputError(f"run directory {run_dir!r} does not exist")
    for name in REQUIRED:
        path = os.path.join(run_dir, name)
        if not os.path.isfile(path):
            hint = (" (training has not finished: continue it with 'rnngmm train ... --resume')"
                    if name in ("model.keras", "gmm.h5") else "")
            raise InputError(f"{path} is missing{hint}")
    config = read_json(os.path.join(run_dir, "config.json"))
    split = read_json(os.path.join(run_dir, "split.json"))
    for key in ("model", "class_names", "chunking"):
        if key not in config:
            raise InputError(f"{os.path.join(run_dir, 'config.json')} has no {key!r} entry")
    model = load_model(os.path.join(run_dir, "model.keras"))
    try:
        novelty = GMMNovelty.load(os.path.join(run_dir, "gmm.h5"))
    except InputError:
        raise
    except Exception as exc:  # h5py/ValueError from a damaged file
        raise InputError(f"{os.path.join(run_dir, 'gmm.h5')} is unreadable: {exc}") from None
    class_names = [str(c) for c in config["class_names"]]
    if novelty.phi_.shape[0] != len(class_names):
        raise InputError(f"{os.path.join(run_dir, 'gmm.h5')} has {novelty.phi_.shape[0]} "
                         f"components but config.json lists {len(class_names)} classes")
    return LoadedRun(config, model, class_names, novelty, split,
                     Chunking.for_scoring(config["chunking"]), run_dir,
                     os.path.basename(os.path.normpath(run_dir)))


def load_model(path):
    """Load a ``.keras`` model file, with an InputError naming it on failure."""
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # zip/JSON/HDF5 errors of a damaged or foreign file
        raise InputError(f"model file {path} cannot be loaded (corrupted or from an "
                         f"incompatible version?): {exc}") from None
