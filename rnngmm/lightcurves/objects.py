"""One object, from raw photometry to network input: the only place it happens.

Every stage goes through the same two steps::

    raw (time, mag, err) + catalog period
        -- prepare_object(..., Preprocessing) -->  PreparedObject
           (cleaned once; period chosen by the one period rule)
        -- object_chunks(..., Chunking)       -->  Chunks (network input)

``rnngmm prepare`` stores prepared objects in the dataset, and records its
:class:`Preprocessing` there; ``train`` and ``score`` chunk those objects
without cleaning them again; ``flag`` and the Python API run both steps with
the :class:`Preprocessing` of the run's dataset (kept in the run's
``config.json``), so a model sees the same kind of input in every stage.

The period rule (:func:`choose_period`): a catalog period is used when it is
finite, not shorter than ``min_catalog_period`` and not longer than the
cleaned light curve's baseline; otherwise (``period_source="auto"``) a
Lomb-Scargle search over ``[min_period, max_period]`` days gives the period.
Long catalog periods within the baseline are kept even beyond the search
range (CRTS lists LPVs of about 1,200 days).
"""

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from rnngmm.errors import BadLightCurve, InputError
from rnngmm.lightcurves.periods import MAX_PERIOD, MIN_PERIOD, lomb_scargle_period
from rnngmm.lightcurves.preprocess import Chunks, clean, make_chunks

#: Where periods come from: catalog when usable else Lomb-Scargle, or only one.
PERIOD_SOURCES = ("auto", "catalog", "lomb-scargle")
#: Catalog periods shorter than this (days, 1.44 min) are implausible: the
#: fastest known pulsators (sdBV p-modes, ~2 min) and ultra-compact binaries
#: (~5 min) lie above it, while junk such as 1e-9 d would fold noise.
MIN_CATALOG_PERIOD = 1e-3


@dataclass(frozen=True)
class Preprocessing:
    """How a raw light curve is cleaned and given a period.

    Recorded in every dataset (``prepare``) and every run (``train``), and
    read back by ``flag`` and the Python API.

    Attributes
    ----------
    sigma_clip : float, optional
        Robust sigma-clip threshold of :func:`rnngmm.lightcurves.preprocess.clean`.
    min_points : int
        Objects with fewer cleaned points are rejected.
    period_source : {"auto", "catalog", "lomb-scargle"}
        "auto": the catalog period when usable, else Lomb-Scargle.
    min_period, max_period : float
        Lomb-Scargle search range in days.
    min_catalog_period : float
        Shorter catalog periods are implausible (treated as missing).
    """

    sigma_clip: float = None
    min_points: int = 20
    period_source: str = "auto"
    min_period: float = MIN_PERIOD
    max_period: float = MAX_PERIOD
    min_catalog_period: float = MIN_CATALOG_PERIOD

    def validate(self):
        """Raise InputError naming the first setting out of range."""
        if self.min_points < 1:
            raise InputError(f"--min_points must be >= 1 (got {self.min_points})")
        if self.sigma_clip is not None and not self.sigma_clip > 0:
            raise InputError(f"--sigma_clip must be > 0 (got {self.sigma_clip})")
        if self.period_source not in PERIOD_SOURCES:
            raise InputError(f"--period_source must be one of {', '.join(PERIOD_SOURCES)}")
        if not 0 < self.min_period < self.max_period:
            raise InputError("need 0 < --min_period < --max_period")
        if not self.min_catalog_period >= 0:
            raise InputError(f"--min_catalog_period must be >= 0 "
                             f"(got {self.min_catalog_period})")
        return self

    def to_dict(self):
        """Plain dict (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """From a dict holding (a superset of) the fields; missing ones default."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


@dataclass(frozen=True)
class Chunking:
    """How a prepared object is cut into network inputs (a run's setting).

    Attributes
    ----------
    n_min : int
        Objects with fewer points are rejected.
    n_max : int
        Steps per chunk.
    period_fold : bool
        Phase-fold on the period and sort by phase first.
    fold_multiple : int
        Fold (and give the network the log period of) this multiple of the
        object's period. 2 makes the half-period ambiguity of a period search
        harmless: a contact binary whose search found half its orbit is folded
        at the orbit, and a pulsator shows two identical cycles.
    """

    n_min: int
    n_max: int
    period_fold: bool = False
    fold_multiple: int = 1

    def to_dict(self):
        """Plain dict (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """From a run's ``chunking`` entry (older runs' extra keys are ignored)."""
        return cls(int(values["n_min"]), int(values["n_max"]),
                   bool(values.get("period_fold", False)),
                   int(values.get("fold_multiple", 1)))

    @classmethod
    def for_scoring(cls, values):
        """The chunking new objects are scored with: a run's ``score_n_min``
        (``train --score_n_min``, e.g. for sparse surveys) replaces ``n_min``."""
        values = dict(values)
        if values.get("score_n_min") is not None:
            values["n_min"] = values["score_n_min"]
        return cls.from_dict(values)


@dataclass
class PreparedObject:
    """A cleaned light curve and its period.

    Attributes
    ----------
    time, mag, err : ndarray of float64
        Sorted, cleaned photometry.
    period : float
        Days.
    period_source : str
        ``"catalog"`` (or the source a prepared dataset recorded) or ``"lomb-scargle"``.
    period_power : float
        Lomb-Scargle peak power, NaN for a catalog period.
    dropped : dict
        Points dropped by cleaning, per reason.
    """

    time: np.ndarray
    mag: np.ndarray
    err: np.ndarray
    period: float
    period_source: str = "catalog"
    period_power: float = np.nan
    dropped: dict = field(default_factory=dict)


def catalog_period_problem(period, time, min_catalog_period=MIN_CATALOG_PERIOD):
    """Why a catalog period cannot be used for a cleaned light curve, or None.

    Parameters
    ----------
    period : object
        The catalog's value (may be NaN, negative, text, ...).
    time : ndarray
        Cleaned, sorted epochs (days).
    min_catalog_period : float
        Shortest plausible period (days).

    Returns
    -------
    str or None
    """
    try:
        period = float(period)
    except (TypeError, ValueError):
        return f"catalog period {period!r} is not a number"
    if not np.isfinite(period) or period <= 0:
        return f"no catalog period ({period!r})"
    if period < min_catalog_period:
        return f"catalog period {period:.3g} d is below {min_catalog_period:g} d"
    baseline = float(time[-1] - time[0]) if len(time) > 1 else 0.0
    if period > baseline:
        return f"catalog period {period:.6g} d is longer than the baseline {baseline:.6g} d"
    return None


def period_by_rule(epochs, catalog_period, settings, search, *, search_name="Lomb-Scargle",
                   catalog_source="catalog"):
    """The one period rule: ``(period, source, power)``.

    The catalog period when usable against ``epochs`` (sorted cleaned times),
    else (``period_source`` "auto" or "lomb-scargle") ``search()``, which
    returns ``(period, power)`` or raises ``BadLightCurve``; ``search_name``
    names it in the reason. One light curve searches with
    :func:`rnngmm.lightcurves.periods.lomb_scargle_period`
    (:func:`choose_period`), a star of several bands with the multi-band
    search (:func:`rnngmm.lightcurves.bands.star_period`).

    Raises
    ------
    BadLightCurve
        When no usable period is found (the reason names both attempts).
    """
    problem = None
    if settings.period_source != "lomb-scargle":
        problem = catalog_period_problem(catalog_period, epochs, settings.min_catalog_period)
        if problem is None:
            return float(catalog_period), catalog_source, np.nan
        if settings.period_source == "catalog":
            raise BadLightCurve(f"no usable period ({problem})")
    try:
        period, power = search()
    except BadLightCurve as exc:
        # A missing catalog period is not news; a rejected one is.
        before = f"{problem}; " if problem and not problem.startswith("no catalog") else ""
        raise BadLightCurve(f"no usable period ({before}{search_name}: {exc.reason})") from None
    return float(period), "lomb-scargle", float(power)


def choose_period(time, mag, err, catalog_period, settings, catalog_source="catalog"):
    """The one period rule of one cleaned light curve: ``(period, source, power)``.

    Parameters
    ----------
    time, mag, err : ndarray
        Cleaned, sorted photometry.
    catalog_period : float
        The catalog's period in days (NaN when it has none).
    settings : Preprocessing
    catalog_source : str
        Name recorded for a usable catalog period.

    Raises
    ------
    BadLightCurve
        When no usable period is found (see :func:`period_by_rule`).
    """
    def search():
        return lomb_scargle_period(time, mag, err, min_period=settings.min_period,
                                   max_period=settings.max_period)
    return period_by_rule(time, catalog_period, settings, search,
                          catalog_source=catalog_source)


def clean_enough(time, mag, err, settings):
    """Clean one raw light curve (:func:`rnngmm.lightcurves.preprocess.clean`) and
    refuse it with fewer than ``settings.min_points`` points.

    Returns
    -------
    time, mag, err : ndarray
    dropped : dict
        Points dropped by cleaning, per reason.
    """
    time, mag, err, dropped = clean(time, mag, err, sigma_clip=settings.sigma_clip)
    if len(time) < settings.min_points:
        raise BadLightCurve(f"too few points ({len(time)} < min_points={settings.min_points})")
    return time, mag, err, dropped


def prepare_object(time, mag, err, catalog_period, settings, catalog_source="catalog"):
    """Clean one raw light curve (once) and choose its period.

    Parameters
    ----------
    time, mag, err : array_like
        Raw photometry, any order.
    catalog_period : float
        NaN when the catalog has none.
    settings : Preprocessing
    catalog_source : str
        Name recorded for a usable catalog period.

    Returns
    -------
    PreparedObject

    Raises
    ------
    BadLightCurve
        With the reason the object cannot be used.
    """
    time, mag, err, dropped = clean_enough(time, mag, err, settings)
    period, source, power = choose_period(time, mag, err, catalog_period, settings,
                                          catalog_source)
    return PreparedObject(time, mag, err, float(period), source, float(power), dropped)


def observed_sampling(time):
    """``(n_points, baseline)`` of a prepared light curve: how it was observed.

    The novelty score of a run trained with ``--sampling_reference`` is ranked
    among known stars observed alike; flag, score and the reference copies all
    describe an object with this. ``baseline`` is last minus first epoch in
    days (NaN without points).
    """
    n_points = len(time)
    return n_points, float(time[-1] - time[0]) if n_points else np.nan


def chunking_period(period, chunking):
    """The period the network sees: the object's times ``chunking.fold_multiple``."""
    return float(period) * chunking.fold_multiple


def object_chunks(time, mag, err, period, chunking):
    """Network inputs of one PREPARED light curve (no second cleaning).

    Parameters
    ----------
    time, mag, err : ndarray
        A :class:`PreparedObject`'s photometry (or a dataset's stored one).
    period : float
    chunking : Chunking

    Raises
    ------
    BadLightCurve
        Fewer points than ``chunking.n_min``, or an unusable period.
    """
    return make_chunks(np.asarray(time, np.float64), np.asarray(mag, np.float64),
                       np.asarray(err, np.float64), chunking_period(period, chunking),
                       n_min=chunking.n_min,
                       n_max=chunking.n_max, period_fold=chunking.period_fold)


@dataclass
class ChunkSet:
    """Chunks of many objects and where each chunk came from.

    Attributes
    ----------
    chunks : Chunks
    object_index : ndarray of int64, shape (n_chunks,)
        Index (in the caller's object numbering) of each chunk's object.
    rejects : list of (int, str)
        ``(object index, reason)`` of every object that gave no chunk.
    """

    chunks: Chunks
    object_index: np.ndarray
    rejects: list


def chunk_objects(records, chunking):
    """Chunk many prepared objects, recording why each failing one failed.

    Parameters
    ----------
    records : iterable of (index, time, mag, err, period)
    chunking : Chunking

    Returns
    -------
    ChunkSet
    """
    parts, owners, rejects = [], [], []
    for index, time, mag, err, period in records:
        try:
            chunks = object_chunks(time, mag, err, period, chunking)
        except BadLightCurve as exc:
            rejects.append((int(index), exc.reason))
            continue
        parts.append(chunks)
        owners.append(np.full(len(chunks), index, dtype=np.int64))
    object_index = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    return ChunkSet(Chunks.concatenate(parts, chunking.n_max), object_index, rejects)


def dataset_records(dataset, indices):
    """``(index, time, mag, err, period)`` of ``indices`` of a prepared Dataset."""
    for i, t, m, e in dataset.iter_lightcurves(indices):
        yield i, t, m, e, dataset.periods[i]


def dataset_preprocessing(attrs):
    """The :class:`Preprocessing` a prepared dataset records in its provenance.

    Parameters
    ----------
    attrs : mapping
        The dataset's root attributes (``inputs`` holds the prepare settings as JSON).
    """
    import json
    try:
        inputs = json.loads(str(attrs.get("inputs", "{}")))
    except ValueError:
        inputs = {}
    return Preprocessing.from_dict(inputs)


def dataset_class_map(attrs):
    """The ``--class_map`` a prepared dataset was made with (None when none)."""
    import json
    try:
        return json.loads(str(attrs.get("inputs", "{}"))).get("class_map")
    except ValueError:
        return None
