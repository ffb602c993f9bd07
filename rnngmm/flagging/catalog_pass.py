"""A pass over the finished shards that adapts the flags to the catalog.

``flag --calibrate catalog`` takes the flag thresholds from the catalog's
own novelty scores (:mod:`rnngmm.novelty.thresholds`), and
``flag --estimate_priors`` estimates the catalog's class mix by EM and
re-weights the class probabilities (:mod:`rnngmm.class_frequencies`). Both need every
object's results, so they run after every rank finished scoring and before
rank 0 writes the output.

Every rank reads a round-robin share of ALL shards (not only those it
scored: a resumed job has shards from earlier jobs). The thresholds come
from every scored object's score, gathered on rank 0 (8 bytes per object);
the EM sums over all objects at each iteration. The sums are made
deterministic: each shard's partial sum is computed alike whoever holds it,
and the partial sums are added in shard order on every rank, so one rank and
several ranks write identical files (an ``Allreduce`` adds in an order that
depends on the number of ranks).
"""

from dataclasses import dataclass, field

import numpy as np

from rnngmm.errors import InputError
from rnngmm.object_table import anomaly_column, class_column, percentile_label
from rnngmm.class_frequencies import classifier_training_prior, em_class_priors, reweight
from rnngmm.flagging import shards as sh
from rnngmm.flagging.assemble import read_results
from rnngmm.novelty.thresholds import (DEFAULT_CONTAMINATION, catalog_thresholds, check_contamination,
                        flag_counts_by_class, rates_from_counts, thin_thresholds)
from rnngmm.class_frequencies import class_weight_power

#: ``--calibrate`` modes: thresholds of the run's training objects, or of the catalog.
CALIBRATION_MODES = ("training", "catalog")


@dataclass
class Calibration:
    """How flags and classes are adapted to the catalog.

    Attributes
    ----------
    mode : {"training", "catalog"}
        Where the flag thresholds come from.
    contamination : float or None
        Fraction of the catalog expected to be truly anomalous ("catalog"
        mode; None means :data:`DEFAULT_CONTAMINATION`).
    estimate_priors : bool
        Estimate the catalog's class mix and re-weight the probabilities.
    """

    mode: str = "training"
    contamination: float = None
    estimate_priors: bool = False

    def validate(self):
        """Raise InputError for a bad setting; returns self."""
        if self.mode not in CALIBRATION_MODES:
            raise InputError(f"--calibrate {self.mode!r}: choose from "
                             f"{', '.join(CALIBRATION_MODES)}")
        if self.contamination is not None:
            if self.mode != "catalog":
                raise InputError("--contamination applies to --calibrate catalog only")
            try:
                check_contamination(self.contamination)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        return self

    @property
    def needs_pass(self):
        """True when the flags or classes depend on the whole catalog."""
        return self.mode == "catalog" or self.estimate_priors

    @property
    def fraction(self):
        """The contamination in use."""
        return DEFAULT_CONTAMINATION if self.contamination is None else float(self.contamination)


def run_training_prior(run):
    """``(prior, source)``: the prior the run's class probabilities are
    fitted to (:func:`rnngmm.class_frequencies.classifier_training_prior`)."""
    setting = (run.config.get("train") or {}).get("class_weight", "none")
    try:
        power = class_weight_power(setting)
    except ValueError as exc:
        raise InputError(f"{run.run_dir}/config.json: {exc}") from None
    return classifier_training_prior(run.novelty.phi_,
                                     run.config["model"].get("class_weights"), power)


@dataclass
class CatalogAdjustment:
    """What the catalog pass found; rank 0 writes the output with it.

    Attributes
    ----------
    calibration : Calibration
    class_names : list of str
    percentiles : tuple of float
    training_thresholds : dict of float to float
    catalog_thresholds : dict of float to float or None
    counts : dict of str to ndarray
        ``"training"`` (and ``"catalog"``): :func:`flag_counts_by_class` of
        every scored object by its output ``predicted_class``.
    n_scored : int
    training_prior : ndarray or None
    prior_source : str or None
    estimate : rnngmm.class_frequencies.PriorEstimate or None
        Without its probabilities (each block is re-weighted when written).
    thin : list of float
        Percentiles whose catalog threshold rests on few objects.
    """

    calibration: Calibration
    class_names: list
    percentiles: tuple
    training_thresholds: dict
    catalog_thresholds: dict = None
    counts: dict = field(default_factory=dict)
    n_scored: int = 0
    training_prior: np.ndarray = None
    prior_source: str = None
    estimate: object = None
    thin: list = field(default_factory=list)

    @property
    def thresholds(self):
        """The thresholds the flags are set at."""
        return self.catalog_thresholds or self.training_thresholds

    def adjust_prob(self, prob):
        """Class probabilities re-weighted to the estimated mix (rows of NaN stay NaN)."""
        prob = np.asarray(prob, np.float64)
        if self.estimate is None:
            return prob
        out = prob.copy()
        rows = np.isfinite(prob).all(axis=1)
        out[rows] = reweight(prob[rows], self.training_prior, self.estimate.prior)
        return out

    def column_descriptions(self):
        """Descriptions of the columns whose meaning the adjustment changes."""
        out = {}
        if self.catalog_thresholds is not None:
            for p in self.percentiles:
                out[anomaly_column(p)] = (
                    f"novelty score above the {p:g}th percentile of the catalog's own scores "
                    f"after setting aside the top {self.calibration.fraction:g} "
                    "(--calibrate catalog; energy_percentile stays relative to the training "
                    "objects)")
        if self.estimate is not None:
            for name in self.class_names:
                out[class_column(name)] = (
                    f"probability of class {name} re-weighted to the catalog's class mix "
                    "estimated by EM (metadata class_priors; the network's own is "
                    "proportional to this times training/catalog prior)")
            out["predicted_class"] = ("class with the highest probability re-weighted to "
                                      "the catalog's estimated class mix")
            out["class_probability"] = "re-weighted probability of predicted_class"
        return out

    def _rates(self, name):
        per_class, overall = rates_from_counts(self.counts[name])
        return per_class, overall

    def metadata(self):
        """Entries of the output's metadata."""
        labels = [percentile_label(p) for p in self.percentiles]
        meta = {"calibration": self.calibration.mode,
                "training_thresholds": {k: float(self.training_thresholds[p])
                                        for k, p in zip(labels, self.percentiles)}}
        if self.catalog_thresholds is not None:
            meta.update(
                contamination=self.calibration.fraction,
                calibration_description=(
                    "thresholds at the percentiles of the catalog's own novelty scores "
                    "after setting aside the top 'contamination' fraction: about "
                    "1 - p/100 of the catalog's ordinary objects are flagged at p"),
                catalog_thresholds={k: float(self.catalog_thresholds[p])
                                    for k, p in zip(labels, self.percentiles)},
                n_calibration_objects=int(self.n_scored))
        n = self.counts["training"][0]
        by_class = {}
        for k, name in enumerate(self.class_names):
            entry = {"n": int(n[k])}
            for which in self.counts:
                per_class = self._rates(which)[0][:, k]
                entry[which] = {label: (None if np.isnan(r) else round(float(r), 6))
                                for label, r in zip(labels, per_class)}
            by_class[name] = entry
        meta["flag_rate_by_class"] = by_class
        meta["flag_rate_overall"] = {
            which: {label: (None if np.isnan(r) else round(float(r), 6))
                    for label, r in zip(labels, self._rates(which)[1])}
            for which in self.counts}
        if self.estimate is not None:
            meta["class_priors"] = {
                "method": "EM of Saerens, Latinne & Decaestecker (2002) on the scored "
                          "objects' class probabilities (label shift)",
                "training": dict(zip(self.class_names, map(float, self.training_prior))),
                "catalog": dict(zip(self.class_names, map(float, self.estimate.prior))),
                "training_prior_source": self.prior_source,
                "iterations": int(self.estimate.iterations),
                "converged": bool(self.estimate.converged),
                "n_objects": int(self.estimate.n_objects)}
        return meta

    def lines(self):
        """Log lines: thresholds, per-class flag rates side by side, class mix."""
        lines = []
        heads = [anomaly_column(p) for p in self.percentiles]
        if self.catalog_thresholds is not None:
            pairs = ", ".join(f"{h} {self.catalog_thresholds[p]:.4g} (training "
                              f"{self.training_thresholds[p]:.4g})"
                              for h, p in zip(heads, self.percentiles))
            lines.append(f"rnngmm flag: thresholds from the catalog (--calibrate catalog, "
                         f"contamination {self.calibration.fraction:g}, {self.n_scored} "
                         f"scored objects): {pairs}")
            for p in self.thin:
                lines.append(f"  warning: the {p:g}th-percentile threshold rests on fewer "
                             "than 10 of the catalog's objects")
            title = "catalog thresholds | training thresholds"
        else:
            title = "training thresholds"
        lines.append(f"  flag rate per predicted class ({title}):")
        width = max([len(c) for c in self.class_names] + [5])
        lines.append(f"  {'class':<{width}} {'n':>7}  " + "  ".join(f"{h:>17}" for h in heads))
        rates = {which: self._rates(which) for which in self.counts}
        n = self.counts["training"][0]

        def cell(values):
            return " | ".join("  -  " if np.isnan(v) else f"{v:5.3f}" for v in values)
        for k, name in enumerate(self.class_names):
            cells = [cell([rates[w][0][j, k] for w in rates]) for j in range(len(heads))]
            lines.append(f"  {name:<{width}} {int(n[k]):7d}  "
                         + "  ".join(f"{c:>17}" for c in cells))
        cells = [cell([rates[w][1][j] for w in rates]) for j in range(len(heads))]
        lines.append(f"  {'all':<{width}} {int(n.sum()):7d}  "
                     + "  ".join(f"{c:>17}" for c in cells))
        if self.estimate is not None:
            mix = ", ".join(f"{c} {q:.3f} ({t:.3f})" for c, q, t in zip(
                self.class_names, self.estimate.prior, self.training_prior))
            state = "converged" if self.estimate.converged else "NOT converged"
            lines.append(f"rnngmm flag: estimated class mix of the catalog (training prior "
                         f"in brackets; EM {state} after {self.estimate.iterations} "
                         f"iterations on {self.estimate.n_objects} objects): {mix}")
        return lines


def _ordered_sum(dist, keyed):
    """Sum of every rank's ``(shard index, array)`` pairs, added in shard
    order: the same value on every rank for any number of ranks."""
    parts = dist.gather(keyed)
    parts = dist.bcast(parts)
    pairs = sorted((pair for part in parts for pair in part), key=lambda pair: pair[0])
    return np.sum(np.stack([value for _, value in pairs]), axis=0) if pairs else None


def _read_scored(job, plan, directory, dist):
    """``(shard indices, prob blocks, score blocks)`` of this rank's share of
    the shards, scored rows only (network probabilities and the run's score)."""
    n_classes = job.scorer.n_classes
    indices, probs, scores = [], [], []
    for shard in sh.shards_of_rank(plan, dist.rank, dist.size):
        results = read_results(shard, directory, n_classes)
        prob = np.asarray(results.prob, np.float64).reshape(-1, n_classes)
        usable = results.ok & np.isfinite(results.energy) & np.isfinite(prob).all(axis=1)
        prob = prob[usable]
        network_class = np.argmax(prob, axis=1) if len(prob) else np.zeros(0, np.int64)
        indices.append(shard.index)
        probs.append(prob)
        scores.append(job.novelty.novelty_scores(
            results.energy[usable], network_class,
            np.max(prob, axis=1) if len(prob) else np.zeros(0),
            n_points=results.sampling_points[usable], baseline=results.baseline[usable]))
    return indices, probs, scores


def _estimate_priors(job, indices, probs, dist):
    try:
        return em_class_priors(probs, job.training_prior[0],
                               total=lambda partials: _ordered_sum(
                                   dist, list(zip(indices, partials))))
    except ValueError as exc:
        raise InputError(f"flag --estimate_priors: {exc}") from None


def _catalog_thresholds(job, scores, dist):
    """Thresholds from every rank's scores, computed on rank 0 and broadcast."""
    gathered = dist.gather(scores)
    thresholds, error = None, None
    if dist.is_root:
        everything = np.concatenate([s for part in gathered for s in part] or [np.zeros(0)])
        try:
            thresholds = catalog_thresholds(everything, job.percentiles,
                                            job.calibration.fraction)
        except ValueError as exc:
            error = f"flag --calibrate catalog: {exc}"
    thresholds, error = dist.bcast((thresholds, error))
    if error is not None:
        raise InputError(error)
    return thresholds


def adjust_on_catalog(job, plan, directory, dist):
    """Run the catalog pass (every rank, after all shards are written).

    Parameters
    ----------
    job : rnngmm.flagging.driver.FlagJob
        With ``calibration`` (a :class:`Calibration`) and, for
        ``estimate_priors``, ``training_prior`` (``(prior, source)``).
    plan : list of Shard
    directory : str
        The parts directory.
    dist : rnngmm.dist.Dist

    Returns
    -------
    CatalogAdjustment
        The same on every rank.
    """
    calibration = job.calibration
    indices, probs, scores = _read_scored(job, plan, directory, dist)
    adjustment = CatalogAdjustment(
        calibration=calibration, class_names=list(job.class_names),
        percentiles=tuple(float(p) for p in job.percentiles),
        training_thresholds=job.novelty.score_thresholds(job.percentiles))
    classes = [np.argmax(p, axis=1) if len(p) else np.zeros(0, np.int64) for p in probs]
    if calibration.estimate_priors:
        adjustment.training_prior, adjustment.prior_source = job.training_prior
        estimate = _estimate_priors(job, indices, probs, dist)
        classes = [np.argmax(p, axis=1) if len(p) else np.zeros(0, np.int64)
                   for p in estimate.prob]
        estimate.prob = None  # blocks are re-weighted again as they are written
        adjustment.estimate = estimate
    n_scored = _ordered_sum(dist, [(i, len(s)) for i, s in zip(indices, scores)])
    adjustment.n_scored = int(n_scored or 0)
    if calibration.mode == "catalog":
        adjustment.catalog_thresholds = _catalog_thresholds(job, scores, dist)
        adjustment.thin = thin_thresholds(adjustment.n_scored, job.percentiles,
                                          calibration.fraction)
    sets = {"catalog": adjustment.catalog_thresholds,
            "training": adjustment.training_thresholds}
    n_classes = len(job.class_names)
    for name, thresholds in sets.items():
        if thresholds is None:
            continue
        counts = [(i, flag_counts_by_class(c, s, thresholds, n_classes))
                  for i, c, s in zip(indices, classes, scores)]
        total = _ordered_sum(dist, counts)
        adjustment.counts[name] = (total if total is not None else
                                   np.zeros((1 + len(thresholds), n_classes), np.int64))
    return adjustment
