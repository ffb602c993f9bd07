"""The per-object result columns: one schema for ``score``, ``flag`` and the API.

Columns, in order (each command puts its own identifying columns first)::

    status             "ok", or why the object could not be scored
    period             period used (days); NaN when none
    period_source      "catalog" | "lomb-scargle" | (a dataset's recorded source) | ""
    predicted_class    argmax of the mean class probability ("" if not ok)
    class_probability  its probability
    prob_<class>       mean probability of every class of the run
    n_chunks           chunks the object was scored on (0 if not ok)
    n_points           cleaned points (0 when the object could not be prepared)
    baseline           last minus first cleaned epoch, days (NaN when not prepared)
    energy             mean GMM sample energy of the chunks (HIGHER = more anomalous)
    energy_percentile  percent of the run's training objects with a lower novelty
                       score (0-100); with the class-fair scores (``class_energy``,
                       ``class_energy_msp``) of the training objects predicted as
                       the same class; the descriptions name the run's score
    novelty_score      the run's novelty score itself (HIGHER = more anomalous):
                       what the anomaly flags compare with the ``threshold_<p>``
                       of the table's metadata, and what reports rank by; for a
                       run conditioned on the sampling, ranked among reference
                       copies of training objects observed alike
    anomaly_<p>        energy_percentile above p (the run's novelty score above its
                       p-th percentile threshold; with ``flag --calibrate catalog``
                       above the catalog's own threshold instead)
    network_class      ``flag --estimate_priors`` only: the network's own predicted
                       class (``predicted_class`` and ``prob_<class>`` then hold the
                       probabilities re-weighted to the catalog's class mix)

Stars read in several bands (``--band g r``; the run's model learned one band)
are scored on ALL their usable bands' chunks: the columns above describe the
star (``n_points`` and ``baseline`` over its scored bands), and
:func:`band_columns` adds, after them::

    bands_used               the bands scored, "g,r"
    bands_missing            "band: reason" of the bands asked for and not scored
    predicted_class_<b>      class of band b's chunks alone ("" if not scored)
    energy_percentile_<b>    percentile of band b's novelty score alone
    n_points_<b>             cleaned points of band b scored (0 if not scored)
    colour_<b1>_<b2>         mean cleaned magnitude of b1 minus that of b2, for
                             each adjacent pair in the order given (NaN when
                             either band is not scored)

With one band none of these columns appear.

Rows that were not scored have NaN numbers, empty strings and False flags.
"""

import numpy as np

OK = "ok"
#: Columns every result table has (pass-through columns must not reuse them).
RESULT_COLUMNS = ("status", "period", "period_source", "predicted_class",
                  "class_probability", "n_chunks", "n_points", "baseline", "energy",
                  "energy_percentile", "novelty_score")


def percentile_label(percentile):
    """The one spelling of a percentile in names and keys: 95 -> "95", 99.5 -> "99p5"."""
    value = float(percentile)
    if value.is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", "p")


def anomaly_column(percentile):
    """Name of the anomaly flag column of ``percentile``."""
    return f"anomaly_{percentile_label(percentile)}"


def class_column(name):
    """Name of the probability column of class ``name``."""
    return f"prob_{name}"


#: Column added by ``flag --estimate_priors``.
NETWORK_CLASS = "network_class"


def reserved_columns(class_names, percentiles, bands=None):
    """Every result column name (pass-through columns must avoid them)."""
    return (set(RESULT_COLUMNS) | {NETWORK_CLASS} | {class_column(c) for c in class_names}
            | {anomaly_column(p) for p in percentiles}
            | (set(band_column_info(bands)) if bands else set()))


def text_column(values):
    """A str column (an empty input gives an empty str column)."""
    return np.array([str(v) for v in values], dtype=str) if len(values) else np.zeros(0, "U1")


def _predicted(ok, prob, class_names):
    """``(class index, predicted_class column, class_probability column)``
    of probabilities ``prob`` (rows not ``ok``: index 0, "" and NaN)."""
    best = np.zeros(len(ok), np.int64)
    if prob.size and ok.any():
        best[ok] = np.argmax(prob[ok], axis=1)
    names = np.asarray([str(c) for c in class_names] or [""], dtype=object)
    probability = np.full(len(ok), np.nan)
    probability[ok] = prob[ok, best[ok]]
    return best, text_column(np.where(ok, names[best], "")), probability


def result_columns(*, status, period, period_source, prob, n_chunks, energy, class_names,
                   novelty, percentiles, thresholds=None, n_points=None, baseline=None,
                   sampling_points=None):
    """The result columns of :data:`RESULT_COLUMNS` plus class and anomaly columns.

    Parameters
    ----------
    status : array_like of str, shape (n,)
        ``"ok"`` for scored rows, else the reason.
    period : array_like of float, shape (n,)
    period_source : array_like of str, shape (n,)
    prob : ndarray, shape (n, K)
        Mean class probabilities (NaN rows where not scored).
    n_chunks : array_like of int, shape (n,)
    energy : array_like of float, shape (n,)
        Mean chunk energy (NaN where not scored).
    class_names : sequence of str
    novelty : rnngmm.novelty.mixture.GMMNovelty
        The run's mixture: thresholds and training energies.
    percentiles : sequence of float
    thresholds : dict of float to float, optional
        ``{percentile: threshold}`` on the run's novelty score to flag at
        (``flag --calibrate catalog``); default the run's own.
    n_points, baseline : array_like, shape (n,), optional
        Cleaned points and baseline (days) of each object (needed when the run
        conditions its score on the sampling); default 0 and NaN.
    sampling_points : array_like, shape (n,), optional
        The points the sampling-conditioned score is conditioned on (default
        ``n_points``; a star of several bands: the mean cleaned points per
        scored band, ``RowResults.sampling_points``).

    Returns
    -------
    dict of str to ndarray
        In column order.
    """
    status = text_column(status)
    ok = status == OK
    prob = np.asarray(prob, np.float64).reshape(len(status), len(class_names))
    energy = np.asarray(energy, np.float64)
    best, predicted_class, class_probability = _predicted(ok, prob, class_names)
    # The run's novelty score (the energy, or the energy ranked within the
    # predicted class) decides the percentile and the flags.
    n_points = (np.zeros(len(status), np.int64) if n_points is None
                else np.asarray(n_points, np.int64))
    baseline = (np.full(len(status), np.nan) if baseline is None
                else np.asarray(baseline, np.float64))
    conditioning = n_points if sampling_points is None else np.asarray(sampling_points)
    score = np.full(len(status), np.nan)
    energy_percentile = np.full(len(status), np.nan)
    scored = ok & np.isfinite(energy)
    if scored.any():
        score[scored] = novelty.novelty_scores(energy[scored], best[scored],
                                               np.max(prob[scored], axis=1),
                                               n_points=conditioning[scored],
                                               baseline=baseline[scored])
        energy_percentile[scored] = novelty.score_percentile(score[scored])
    columns = {"status": status,
               "period": np.asarray(period, np.float64),
               "period_source": text_column(period_source),
               "predicted_class": predicted_class,
               "class_probability": class_probability}
    for k, name in enumerate(class_names):
        columns[class_column(name)] = prob[:, k]
    columns["n_chunks"] = np.asarray(n_chunks, np.int64)
    columns["n_points"] = n_points
    columns["baseline"] = baseline
    columns["energy"] = energy
    columns["energy_percentile"] = energy_percentile
    columns["novelty_score"] = score
    if thresholds is None:
        thresholds = novelty.score_thresholds(percentiles)
    for percentile in percentiles:
        columns[anomaly_column(percentile)] = scored & (score > thresholds[float(percentile)])
    return columns


def band_columns(results, class_names, novelty):
    """The per-band columns of stars read in several bands (module docstring).

    Each band's class, energy percentile and novelty score come from the mean
    over that band's chunks alone, ranked like a star's (conditioned, for a
    run with a sampling reference, on the band's own points and baseline).

    Parameters
    ----------
    results : rnngmm.flagging.results.RowResults
        With ``bands`` (None gives no columns).
    class_names : sequence of str
    novelty : rnngmm.novelty.mixture.GMMNovelty

    Returns
    -------
    dict of str to ndarray
        In column order.
    """
    bands = results.bands
    if not bands:
        return {}
    ok = text_column(results.status) == OK
    n = len(ok)
    chunks = np.asarray(results.band_n_chunks, np.int64).reshape(n, len(bands))
    used = ok[:, None] & (chunks > 0)
    band_prob = np.asarray(results.band_prob, np.float64).reshape(n, len(bands), -1)
    energy = np.asarray(results.band_energy, np.float64).reshape(n, len(bands))
    points = np.asarray(results.band_n_points, np.int64).reshape(n, len(bands))
    baseline = np.asarray(results.band_baseline, np.float64).reshape(n, len(bands))
    mag = np.where(used, np.asarray(results.band_mag, np.float64).reshape(n, len(bands)),
                   np.nan)
    names = np.asarray(bands, dtype=object)
    columns = {"bands_used": text_column([",".join(names[row]) for row in used]),
               "bands_missing": text_column(np.where(ok, results.bands_missing, ""))}
    for i, band in enumerate(bands):
        scored = used[:, i] & np.isfinite(energy[:, i])
        best, predicted, _ = _predicted(scored, band_prob[:, i, :], class_names)
        percentile = np.full(n, np.nan)
        if scored.any():
            score = novelty.novelty_scores(energy[scored, i], best[scored],
                                           np.max(band_prob[scored, i, :], axis=1),
                                           n_points=points[scored, i],
                                           baseline=baseline[scored, i])
            percentile[scored] = novelty.score_percentile(score)
        columns[f"predicted_class_{band}"] = predicted
        columns[f"energy_percentile_{band}"] = percentile
        columns[f"n_points_{band}"] = np.where(used[:, i], points[:, i], 0).astype(np.int64)
    for i, (first, second) in enumerate(zip(bands, bands[1:])):
        columns[colour_column(first, second)] = mag[:, i] - mag[:, i + 1]
    return columns


def colour_column(first, second):
    """Name of the colour column of adjacent bands ``first`` and ``second``."""
    return f"colour_{first}_{second}"


def band_column_info(bands, novelty_score=None, conditioned=False):
    """``{column: (unit, description)}`` of the per-band columns of ``bands``."""
    bands = [str(b) for b in bands or ()]
    if not bands:
        return {}
    score = f"the run's novelty score {novelty_score}" if novelty_score else "the novelty score"
    among = "known stars observed alike" if conditioned else "the run's training objects"
    info = {"bands_used": (None, "bands scored, in the order given: the star's class, "
                                 "energy and novelty score are means over ALL their chunks "
                                 "(each band cleaned and chunked on its own, one period "
                                 "per star); n_points and baseline are over them"),
            "bands_missing": (None, "'band: reason' of each band asked for and not scored "
                                    "(not read, too few points, no chunk), '; '-joined; the "
                                    "star is scored from the bands it has")}
    for band in bands:
        info[f"predicted_class_{band}"] = (
            None, f"class with the highest mean probability over band {band}'s chunks "
                  "alone ('' when the band was not scored)")
        info[f"energy_percentile_{band}"] = (
            "%", f"percent of {among} with a lower {score}, computed from band {band}'s "
                 "chunks alone (NaN when the band was not scored)")
        info[f"n_points_{band}"] = (None, f"cleaned points of band {band} scored (0 when "
                                          "it was not scored: bands_missing says why)")
    for first, second in zip(bands, bands[1:]):
        info[colour_column(first, second)] = (
            "mag", f"colour {first}-{second}: mean cleaned magnitude of band {first} minus "
                   f"that of band {second} (NaN when either band was not scored)")
    return info


def prior_adjusted_columns(columns, adjusted_prob, class_names):
    """Result columns with the class columns taken from re-weighted probabilities.

    ``predicted_class``, ``class_probability`` and ``prob_<class>`` come from
    ``adjusted_prob``; the network's own predicted class moves to a new
    ``network_class`` column after ``class_probability`` (the novelty score
    stays ranked within it, as in training).

    Parameters
    ----------
    columns : dict of str to ndarray
        From :func:`result_columns`.
    adjusted_prob : ndarray (n, K)
        Re-weighted probabilities (NaN rows where not scored).
    class_names : sequence of str

    Returns
    -------
    dict of str to ndarray
        In column order.
    """
    adjusted_prob = np.asarray(adjusted_prob, np.float64).reshape(-1, len(class_names))
    _, predicted_class, probability = _predicted(columns["status"] == OK, adjusted_prob,
                                                 class_names)
    replaced = {"predicted_class": predicted_class, "class_probability": probability}
    replaced.update({class_column(name): adjusted_prob[:, k]
                     for k, name in enumerate(class_names)})
    out = {}
    for name, values in columns.items():
        out[name] = replaced.get(name, values)
        if name == "class_probability":
            out[NETWORK_CLASS] = columns["predicted_class"]
    return out


#: Unit and description of every result column (``prob_``, ``anomaly_`` and
#: ``code_`` columns are described by :func:`column_info`).
COLUMN_INFO = {
    "status": (None, "'ok', or why the object could not be scored"),
    "period": ("d", "period used to fold and describe the light curve"),
    "period_source": (None, "where the period came from: catalog, lomb-scargle, or "
                            "the source recorded in a prepared dataset"),
    "predicted_class": (None, "class with the highest mean probability over the "
                              "object's chunks"),
    "class_probability": (None, "mean probability of predicted_class"),
    "n_chunks": (None, "chunks (network inputs of at most n_max points) the object was "
                       "scored on"),
    "n_points": (None, "cleaned points of the light curve (0 when it could not be prepared)"),
    "baseline": ("d", "last minus first cleaned epoch"),
    "novelty_score": (None, "the run's novelty score (HIGHER = more anomalous): the "
                            "anomaly flags are this above the table's threshold_<p>; "
                            "reports rank by it"),
    "energy": (None, "mean GMM sample energy of the chunks, -log density in the "
                     "network's z space; HIGHER = more anomalous"),
    "energy_percentile": ("%", "percent of the run's training objects with a lower "
                               "novelty score (of those predicted as the same class with "
                               "the class-fair scores class_energy and class_energy_msp)"),
    NETWORK_CLASS: (None, "the network's own predicted class (before re-weighting to the "
                          "catalog's class mix); a class-fair novelty score is "
                          "ranked within it"),
    "id": (None, "object id"),
    "label": (None, "class label given in the input"),
    "role": (None, "validation | known | novel | unlabelled | excluded"),
}


#: What each novelty score (``rnngmm.novelty.mixture.NOVELTY_SCORES``) is, for
#: the column descriptions.
SCORE_NAMES = {
    "energy": "the sample energy, one ranking over all classes",
    "class_energy": "the energy ranked within the predicted class",
    "class_energy_msp": "the mean of the class-ranked energy and of the ranked "
                        "classifier doubt 1 - max class probability, ranked within "
                        "the predicted class",
}


def _score_info(name, novelty_score, conditioned=False):
    """``(unit, description)`` of the columns that depend on the run's novelty score."""
    what = SCORE_NAMES[novelty_score]
    pooled = novelty_score == "energy"
    among = ("the run's training objects" if pooled else
             "the run's training objects predicted as the same class")
    if conditioned:
        among = ("copies of the run's training objects observed alike (same band of "
                 "cleaned points and of baseline)" + ("" if pooled else
                                                     " predicted as the same class"))
    if name == "novelty_score":
        return None, (f"the run's novelty score {novelty_score} ({what})"
                      + (f", ranked among {among}" if conditioned else "")
                      + "; HIGHER = more anomalous; the anomaly flags are this above "
                        "the table's threshold_<p>")
    if name == "energy_percentile":
        return "%", (f"percent of {among} with a lower novelty score "
                     f"({novelty_score}: {what})")
    if name == NETWORK_CLASS:
        return None, ("the network's own predicted class (before re-weighting to the "
                      "catalog's class mix)" + ("" if pooled else
                                                f"; the {novelty_score} score is ranked "
                                                "within it"))
    label = name[len("anomaly_"):].replace("p", ".")
    return None, f"novelty score {novelty_score} above its {label}th percentile among {among}"


def column_info(name, novelty_score=None, conditioned=False):
    """``(unit, description)`` of a result column, or None for other columns.

    Parameters
    ----------
    name : str
    novelty_score : str, optional
        The run's novelty score (a key of :data:`SCORE_NAMES`), named by the
        columns it decides (``energy_percentile``, ``anomaly_<p>``,
        ``network_class``); None: descriptions that fit every score.
    conditioned : bool
        The run ranks its score among reference copies observed alike.
    """
    scored = (name in ("energy_percentile", "novelty_score", NETWORK_CLASS)
              or name.startswith("anomaly_"))
    if scored and novelty_score in SCORE_NAMES:
        return _score_info(name, novelty_score, conditioned)
    if name in COLUMN_INFO:
        return COLUMN_INFO[name]
    if name.startswith("prob_"):
        return None, f"mean probability of class {name[5:]} over the object's chunks"
    if name.startswith("anomaly_"):
        label = name[len("anomaly_"):].replace("p", ".")
        return None, (f"the run's novelty score above its {label}th percentile among the "
                      "run's training objects (of the predicted class with the "
                      "class-fair scores)")
    if name.startswith("code_"):
        return None, f"latent code, component {name[5:]} (mean over chunks)"
    if name.startswith("score_"):
        return None, f"novelty score {name[6:]} (HIGHER = more anomalous)"
    return None


def describe_columns(table, novelty_score=None, conditioned=None, bands=None):
    """Set ``unit`` and ``description`` on every result column of ``table`` (in place).

    Parameters
    ----------
    table : astropy.table.Table
    novelty_score : str, optional
        The run's novelty score, named in the descriptions of the columns it
        decides; default ``table.meta["novelty_score"]`` when present (flag
        tables record it), else descriptions that fit every score.
    conditioned : bool, optional
        The run conditions its score on the sampling; default
        ``table.meta["sampling_conditioned"]`` when present, else False.
    bands : sequence of str, optional
        Band names of a table of stars read in several bands (describes
        :func:`band_columns`); default ``table.meta["bands"]`` when present.

    Returns
    -------
    astropy.table.Table
        ``table``.
    """
    if novelty_score is None:
        novelty_score = table.meta.get("novelty_score")
    if conditioned is None:
        conditioned = bool(table.meta.get("sampling_conditioned", False))
    for name in table.colnames:
        info = column_info(name, novelty_score, conditioned)
        if info is None:
            continue
        unit, description = info
        if unit is not None:
            table[name].unit = unit
        table[name].description = description
    if bands is None:
        bands = table.meta.get("bands")
    for name, (unit, description) in band_column_info(bands, novelty_score,
                                                      conditioned).items():
        if name in table.colnames:
            if unit is not None:
                table[name].unit = unit
            table[name].description = description
    return table


def code_columns(code, n_rows):
    """``{"code_0": ..., ...}`` from an (n, E) code array (None -> no columns)."""
    if code is None:
        return {}
    code = np.asarray(code, np.float64).reshape(n_rows, -1)
    return {f"code_{k}": code[:, k] for k in range(code.shape[1])}
