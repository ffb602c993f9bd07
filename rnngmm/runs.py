"""Reading a finished training run (for ``score`` and ``flag``)."""

import os
from dataclasses import dataclass

from .errors import InputError

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
    novelty : rnngmm.novelty.GMMNovelty
        The whole-training-set mixture and training energies.
    split : dict
        Contents of split.json (object ids of train/validation/novel/...).
    chunking : rnngmm.objects.Chunking
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
        """The :class:`rnngmm.objects.Preprocessing` of the run's training data.

        New objects (``flag``, the Python API) are cleaned and given periods
        with exactly these settings. Runs written before it was recorded
        take it from their dataset's provenance.
        """
        from .objects import Preprocessing, dataset_preprocessing
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

    def predict(self, data, mag=None, err=None, *, period=None, ids=None,
                percentiles=(80.0, 95.0, 99.0), batch_size=512, **columns):
        """Classify light curves and flag anomalies, as ``rnngmm flag`` does.

        Parameters
        ----------
        data : array_like, list of tuples, or astropy Table/TimeSeries
            ``predict(time, mag, err)`` for one light curve; a list of
            ``(time, mag, err[, period])``; or a table with one light curve,
            or many told apart by an ``id`` column (see :mod:`rnngmm.api`).
        mag, err : array_like, optional
            With ``data`` = time, for one light curve.
        period : float or dict, optional
            Catalog period(s) in days (a dict maps ids to periods); missing or
            unusable periods are searched with Lomb-Scargle, as in training.
        ids : sequence of str, optional
            Names of array inputs (default "0", "1", ...).
        percentiles : sequence of float
            Anomaly thresholds (percentiles of the training energies).
        batch_size : int
        **columns
            ``id_col``, ``time_col``, ``mag_col``, ``err_col``, ``period_col``
            of a table input.

        Returns
        -------
        astropy.table.Table
            ``id`` then the flag table's result columns: ``status``, period,
            class probabilities, ``energy`` (HIGHER = more anomalous), its
            percentile and ``anomaly_<p>`` flags; one row per light curve.
        """
        from . import api
        names, records = api.light_curve_records(data, mag, err, period=period, ids=ids,
                                                 **columns)
        results = api.score_light_curves(self, names, records, batch_size=batch_size)
        return api.predict_table(self, names, results, percentiles)

    def embed(self, data, mag=None, err=None, *, period=None, ids=None, batch_size=512,
              **columns):
        """Latent codes of light curves (mean over each object's chunks).

        Same inputs as :meth:`predict`.

        Returns
        -------
        ndarray, shape (n_objects, embedding)
            NaN rows for objects that could not be scored (``predict`` says why).
        """
        from . import api
        names, records = api.light_curve_records(data, mag, err, period=period, ids=ids,
                                                 **columns)
        return api.codes_of(self, api.score_light_curves(self, names, records,
                                                         batch_size=batch_size))

    @property
    def class_map(self):
        """Catalog label -> run class, as the training dataset merged them (or None)."""
        from .objects import dataset_class_map
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
    from .novelty import GMMNovelty
    from .training.rundir import read_json

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
    from .objects import Chunking
    return LoadedRun(config, model, class_names, novelty, split,
                     Chunking.for_scoring(config["chunking"]), run_dir,
                     os.path.basename(os.path.normpath(run_dir)))


def load_model(path):
    """Load a ``.keras`` model file, with an InputError naming it on failure."""
    import keras

    from .models import registry  # noqa: F401  (registers the model classes)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # zip/JSON/HDF5 errors of a damaged or foreign file
        raise InputError(f"model file {path} cannot be loaded (corrupted or from an "
                         f"incompatible version?): {exc}") from None
