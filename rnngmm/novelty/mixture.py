"""Novelty detection with the whole-training-set Gaussian mixture.

:class:`GMMNovelty` is a scikit-learn-style estimator: ``fit`` learns the
mixture from the training set's ``z`` and ``gamma`` (one pass, float64) and
the distribution of training energies, from which thresholds are taken.
The maths is that of :mod:`rnngmm.models.gmm` (one implementation), run on
numpy float64 arrays; every result is a numpy array.

Three novelty scores (``novelty_score``), all HIGHER = more anomalous:

- ``"energy"``: the reference (DAGMM) sample energy against one pooled
  threshold per percentile;
- ``"class_energy"``: the energy ranked within the object's predicted
  class (:mod:`rnngmm.novelty.class_fair`), so a star of a rare known class is not
  flagged for being rare: at the ``p``-th percentile every class's training
  objects are flagged at the rate ``1 - p / 100``;
- ``"class_energy_msp"`` (the default of new runs): the mean of the
  class-fair energy and of the classifier's doubt ``1 - max_k p_k``
  (the maximum softmax probability of Hendrycks & Gimpel 2017) ranked
  on all training objects together (both 0-1 over the training range,
  growing beyond it, so either alone can make an object anomalous),
  ranked within the predicted class once more so the flag rates per
  class stay ``1 - p / 100``. The
  energy misses a new class whose light curves land in a populated part of
  the code space (an RRc among the EW and the rotators); the classifier's
  doubt finds those, and the energy finds the shapes no class has. Chosen
  on leave-one-class-out folds of CRTS (BENCHMARKS.md).

Sign conventions (as in scikit-learn):

- ``energy``: HIGHER = more anomalous;
- ``score_samples`` = ``-energy``: higher = more normal;
- ``decision_function`` = ``threshold - energy``: negative = outlier;
- ``predict``: +1 inlier, -1 outlier.
"""

import h5py
import numpy as np
from keras import ops
from sklearn.base import BaseEstimator, OutlierMixin

from rnngmm.novelty.class_fair import ClassPercentile
from rnngmm.novelty.sampling import SamplingPercentile
from rnngmm.errors import InputError
from rnngmm.inference import mean_by_object
from rnngmm.io.dataset import provenance
from rnngmm.models import gmm
from rnngmm.io.atomic import atomic_hdf5

FORMAT = "rnngmm-gmm"
FORMAT_VERSION = 1
#: The novelty scores a run can flag with (the first is the default of new runs).
NOVELTY_SCORES = ("class_energy_msp", "class_energy", "energy")
#: Scores ranked within the predicted class.
CLASS_SCORES = ("class_energy", "class_energy_msp")
#: Samples per energy evaluation, bounding memory at about B*K*D doubles.
_ENERGY_BATCH = 16384


class GMMNovelty(OutlierMixin, BaseEstimator):
    """Energy-based novelty detector over a fixed Gaussian mixture.

    Follows scikit-learn's estimator contract: constructor arguments are
    stored unchanged (``get_params``/``set_params``/``clone`` work), ``fit``
    returns ``self``, learned state ends in ``_``, and ``fit_predict`` comes
    from ``OutlierMixin`` (pass ``gamma=`` as a keyword).

    Parameters
    ----------
    jitter : float
        Added to the covariance diagonals before factorising (as in training).
    percentiles : sequence of float
        Percentiles of the training energies stored in ``thresholds_``.
    novelty_score : {"class_energy_msp", "class_energy", "energy"}
        The score :meth:`novelty_scores` returns and flags are set on;
        "class_energy" needs each training object's predicted class.

    Attributes
    ----------
    phi_ : ndarray (K,)
        Mixture weights.
    mu_ : ndarray (K, D)
        Component means.
    cov_ : ndarray (K, D, D)
        Component covariances.
    train_energy_ : ndarray (n,)
        Training energies (per object when ``fit`` got ``groups``).
    thresholds_ : dict of float -> float
        Energy at each of ``percentiles`` of ``train_energy_``.
    train_class_ : ndarray of int (n,) or None
        Predicted class of each training object (argmax of its mean gamma).
    class_percentile_ : rnngmm.novelty.class_fair.ClassPercentile or None
        Per-class energy distributions (when ``train_class_`` is known).
    train_max_probability_ : ndarray (n,) or None
        Largest class probability of each training object ("class_energy_msp").
    doubt_percentile_ : ClassPercentile or None
        Distribution of the doubt ``1 - max p`` over all training objects
        ("class_energy_msp").
    combined_percentile_ : ClassPercentile or None
        Per-class distribution of the combined score ("class_energy_msp").
    sampling_percentile_ : rnngmm.novelty.sampling.SamplingPercentile or None
        Reference scores of training objects observed like the scored ones
        (:meth:`set_sampling_reference`); None: scores are not conditioned.
    """

    def __init__(self, jitter=1e-6, percentiles=(80, 95, 99), novelty_score="energy"):
        self.jitter = jitter
        self.percentiles = percentiles
        self.novelty_score = novelty_score

    # ------------------------------------------------------------------ fitting
    def fit(self, X, gamma=None, groups=None):
        """Learn the mixture from training codes ``X`` (= ``z``) and memberships ``gamma``.

        Parameters
        ----------
        X : array_like, shape (N, D)
            The mixture inputs ``z`` of the training chunks.
        gamma : array_like, shape (N, K)
            Component memberships (the estimation network's softmax); required.
        groups : array_like of int, shape (N,), optional
            Object of each chunk; when given, the training energies (and so
            the thresholds) are per-object means of chunk energies.

        Returns
        -------
        self
        """
        if gamma is None:
            raise ValueError("GMMNovelty.fit needs gamma, the (N, K) memberships")
        z = np.asarray(X, dtype=np.float64)
        gamma = np.asarray(gamma, dtype=np.float64)
        if z.ndim != 2 or gamma.ndim != 2 or len(z) != len(gamma) or len(z) == 0:
            raise ValueError(f"z (N, D) and gamma (N, K) must be non-empty with the "
                             f"same N; got {z.shape} and {gamma.shape}")
        phi, mu, cov = gmm.gmm_parameters(z, gamma)
        self._set_parameters(phi, mu, cov)
        energy = self.energy(z)
        if groups is not None:
            energy = mean_by_object(energy, groups)[1]
            gamma = mean_by_object(gamma, groups)[1]
        self.set_train_energy(energy, np.argmax(gamma, axis=1), np.max(gamma, axis=1))
        return self

    @classmethod
    def from_parameters(cls, phi, mu, cov, train_energy=None, jitter=1e-6,
                        percentiles=(80, 95, 99), train_class=None, novelty_score="energy",
                        train_max_probability=None):
        """A fitted detector from known parameters and training energies.

        Parameters
        ----------
        phi : array_like (K,)
        mu : array_like (K, D)
        cov : array_like (K, D, D)
        train_energy : array_like (n,), optional
            Energies of the training set (HIGHER = more anomalous); without
            them the detector computes energies but has no thresholds until
            :meth:`set_train_energy`.
        jitter, percentiles, novelty_score
            As in the constructor.
        train_class : array_like of int (n,), optional
            Predicted class of each training object (needed by "class_energy").
        train_max_probability : array_like (n,), optional
            Largest class probability of each training object (needed by
            "class_energy_msp").

        Returns
        -------
        GMMNovelty
        """
        detector = cls(jitter=float(jitter), percentiles=tuple(float(p) for p in percentiles),
                       novelty_score=str(novelty_score))
        detector._set_parameters(phi, mu, cov)
        if train_energy is not None:
            detector.set_train_energy(train_energy, train_class, train_max_probability)
        return detector

    def _set_parameters(self, phi, mu, cov):
        phi, mu, cov = (np.asarray(ops.convert_to_numpy(a), dtype=np.float64)
                        for a in (phi, mu, cov))
        _check_shapes(phi, mu, cov)
        self.phi_, self.mu_, self.cov_ = phi, mu, cov

    def set_train_energy(self, train_energy, train_class=None, train_max_probability=None):
        """Set the training energies (per object) behind the thresholds, each
        training object's predicted class (for the class-fair scores) and its
        largest class probability (for "class_energy_msp")."""
        if self.novelty_score not in NOVELTY_SCORES:
            raise ValueError(f"novelty_score {self.novelty_score!r}: choose from "
                             f"{NOVELTY_SCORES}")
        train_energy = np.asarray(train_energy, dtype=np.float64).ravel()
        if len(train_energy) == 0 or not np.all(np.isfinite(train_energy)):
            raise ValueError("training energies must be non-empty and finite")
        if train_class is None and self.novelty_score in CLASS_SCORES:
            raise ValueError(f"novelty_score {self.novelty_score!r} needs the training "
                             "objects' predicted classes")
        if train_max_probability is None and self.novelty_score == "class_energy_msp":
            raise ValueError("novelty_score 'class_energy_msp' needs the training objects' "
                             "largest class probabilities")
        self.train_energy_ = train_energy
        self.sampling_percentile_ = None
        self.thresholds_ = {float(p): self.threshold(p) for p in self.percentiles}
        self.train_class_ = self.class_percentile_ = None
        self.train_max_probability_ = self.doubt_percentile_ = None
        self.combined_percentile_ = None
        if train_class is not None:
            self.train_class_ = np.asarray(train_class, np.int64).ravel()
            self.class_percentile_ = ClassPercentile().fit(train_energy, self.train_class_)
        if train_max_probability is not None and train_class is not None:
            doubt = 1.0 - np.asarray(train_max_probability, np.float64).ravel()
            if doubt.shape != train_energy.shape or not np.all(np.isfinite(doubt)):
                raise ValueError("training class probabilities must be finite, one per "
                                 "training energy")
            self.train_max_probability_ = 1.0 - doubt
            # pooled, not per class: a class whose members are often doubtful
            # (EW against ROT) must not hide a doubtful newcomer predicted as it
            self.doubt_percentile_ = ClassPercentile().fit(doubt, np.zeros(len(doubt)))
            combined = self._mean_percentile(train_energy, self.train_class_, doubt)
            self.combined_percentile_ = ClassPercentile().fit(combined, self.train_class_)

    def set_sampling_reference(self, scores, classes, n_points, baseline):
        """Condition the novelty score on how objects were observed.

        Parameters
        ----------
        scores : array_like (n,)
            The run's novelty score (:meth:`novelty_scores` without
            conditioning) of reference copies of training objects: thinned and
            windowed (:func:`rnngmm.novelty.sampling.reference_copies`).
        classes : array_like of int (n,)
            Each copy's predicted class.
        n_points, baseline : array_like (n,)
            Each copy's cleaned points and baseline (days).

        Returns
        -------
        self
        """
        self._check_fitted()
        self.sampling_percentile_ = SamplingPercentile().fit(scores, classes, n_points,
                                                            baseline)
        return self

    @property
    def conditions_on_sampling(self):
        """True when scores are ranked among reference copies observed alike."""
        return getattr(self, "sampling_percentile_", None) is not None

    def _check_fitted(self, attribute="train_energy_"):
        if not hasattr(self, attribute):
            raise RuntimeError("GMMNovelty is not fitted; call fit() or load()")

    # ------------------------------------------------------------------ scoring
    def energy(self, z):
        """Sample energy ``-log p(z)`` under the mixture: HIGHER = more anomalous.

        Parameters
        ----------
        z : array_like, shape (N, D)

        Returns
        -------
        ndarray of float64, shape (N,)
        """
        self._check_fitted("phi_")
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.mu_.shape[1]:
            raise ValueError(f"z must have shape (N, {self.mu_.shape[1]}); got {z.shape}")
        parts = [ops.convert_to_numpy(gmm.sample_energy(
                     z[start:start + _ENERGY_BATCH], self.phi_, self.mu_, self.cov_,
                     jitter=self.jitter))
                 for start in range(0, len(z), _ENERGY_BATCH)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def score_samples(self, z):
        """Log-likelihood ``-energy``: higher = more normal (scikit-learn sign).

        Returns
        -------
        ndarray of float64, shape (N,)
        """
        return -self.energy(z)

    def threshold(self, percentile=95):
        """Energy at ``percentile`` of the training energies (higher = stricter)."""
        self._check_fitted()
        return float(np.percentile(self.train_energy_, percentile))

    def thresholds_for(self, percentiles):
        """``{percentile: energy threshold}``: the stored thresholds where the
        run has them, else the same percentile of the training energies."""
        self._check_fitted()
        return {float(p): float(self.thresholds_.get(float(p), self.threshold(float(p))))
                for p in percentiles}

    def decision_function(self, z, percentile=95):
        """``threshold(percentile) - energy``: negative = outlier, positive = inlier.

        Returns
        -------
        ndarray of float64, shape (N,)
        """
        return self.threshold(percentile) - self.energy(z)

    def predict(self, z, percentile=95):
        """+1 for inliers, -1 for outliers (energy above the percentile threshold).

        Returns
        -------
        ndarray of int, shape (N,)
        """
        return np.where(self.decision_function(z, percentile) < 0, -1, 1)

    def energy_percentile(self, energy):
        """Percentage of training energies below each ``energy`` (0-100).

        Higher = more anomalous; 99 means more anomalous than 99% of the
        training set.
        """
        self._check_fitted()
        ordered = np.sort(self.train_energy_)
        below = np.searchsorted(ordered, np.asarray(energy, dtype=np.float64), side="left")
        return 100.0 * below / len(ordered)

    def _mean_percentile(self, energy, predicted_class, doubt):
        """Mean of the class-fair energy and the pooled-percentile doubt
        (NaN stays NaN)."""
        doubt = np.asarray(doubt, np.float64).ravel()
        return 0.5 * (self.class_percentile_.transform(energy, predicted_class)
                      + self.doubt_percentile_.transform(doubt, np.zeros(len(doubt))))

    def novelty_scores(self, energy, predicted_class, max_probability=None, n_points=None,
                       baseline=None, conditioned=True):
        """The run's novelty score of objects: HIGHER = more anomalous.

        "energy": the energy itself. "class_energy": the energy ranked
        within ``predicted_class`` (0-1 inside the class's training range,
        above 1 beyond it; :class:`rnngmm.novelty.class_fair.ClassPercentile`).
        "class_energy_msp": the mean of that and of the doubt ``1 -
        max_probability`` ranked among all training objects, ranked
        within the class again.
        NaN energies give NaN.

        Parameters
        ----------
        energy : array_like (n,)
            Objects' mean chunk energies.
        predicted_class : array_like of int (n,)
            Argmax of each object's mean class probabilities.
        max_probability : array_like (n,), optional
            The largest of them (required by "class_energy_msp").
        n_points, baseline : array_like (n,), optional
            Cleaned points and baseline (days) of each object: required when
            the run :attr:`conditions_on_sampling`; the score is then ranked
            among the reference copies of its class observed alike
            (:class:`rnngmm.novelty.sampling.SamplingPercentile`).
        conditioned : bool
            False gives the score before that ranking (the reference copies'
            own scores are computed so).
        """
        self._check_fitted()
        energy = np.asarray(energy, np.float64)
        if self.novelty_score == "energy":
            score = energy
        elif self.novelty_score == "class_energy":
            score = self.class_percentile_.transform(energy, predicted_class)
        else:
            if max_probability is None:
                raise ValueError("novelty_score 'class_energy_msp' needs each object's "
                                 "largest class probability")
            doubt = 1.0 - np.asarray(max_probability, np.float64)
            combined = self._mean_percentile(energy, predicted_class, doubt)
            score = self.combined_percentile_.transform(combined, predicted_class)
        if not (conditioned and self.conditions_on_sampling):
            return score
        if n_points is None or baseline is None:
            raise ValueError("this run's novelty score is conditioned on the sampling: "
                             "give each object's n_points and baseline")
        return self.sampling_percentile_.transform(score, predicted_class, n_points, baseline)

    def score_thresholds(self, percentiles):
        """``{percentile: threshold}`` on :meth:`novelty_scores` (flag = score above)."""
        if self.novelty_score == "energy" and not self.conditions_on_sampling:
            return self.thresholds_for(percentiles)
        return ClassPercentile.thresholds(percentiles)

    def score_percentile(self, scores):
        """Percent (0-100) of the training objects with a lower score: of the
        object's predicted class for the class-fair scores, of all for
        "energy" (of the reference copies observed alike for a conditioned run)."""
        if self.novelty_score == "energy" and not self.conditions_on_sampling:
            return self.energy_percentile(scores)
        return ClassPercentile.percentile(scores)

    def expected_flag_rates(self, percentiles):
        """``{percentile: fraction}`` of training objects flagged at each
        threshold (per predicted class too, for "class_energy")."""
        return {float(p): 1.0 - float(p) / 100.0 for p in percentiles}

    # --------------------------------------------------------------------- I/O
    def save(self, path):
        """Write the fitted detector to an HDF5 file (atomically).

        The file is built in memory (:func:`rnngmm.io.atomic.atomic_hdf5`):
        on a full disk this raises ``InputError`` and any previous file at
        ``path`` stays usable, where HDF5 writing to disk could crash.
        """
        self._check_fitted()
        with atomic_hdf5(path) as handle:
            handle.attrs.update(provenance())
            handle.attrs["format"] = FORMAT
            handle.attrs["format_version"] = FORMAT_VERSION
            handle.attrs["jitter"] = self.jitter
            handle.attrs["novelty_score"] = self.novelty_score
            if self.train_class_ is not None:
                handle.create_dataset("train_class", data=self.train_class_)
            if self.train_max_probability_ is not None:
                handle.create_dataset("train_max_probability", data=self.train_max_probability_)
            handle.create_dataset("phi", data=self.phi_)
            handle.create_dataset("mu", data=self.mu_)
            handle.create_dataset("cov", data=self.cov_)
            handle.create_dataset("train_energy", data=self.train_energy_)
            handle.create_dataset("percentiles", data=np.asarray(self.percentiles))
            if self.conditions_on_sampling:
                group = handle.create_group("sampling_reference")
                for name, values in self.sampling_percentile_.to_arrays().items():
                    group.create_dataset(name, data=values)

    @classmethod
    def load(cls, path):
        """Read a detector written by :meth:`save`.

        Raises
        ------
        InputError
            If the file is missing, not HDF5, not a GMM file, or inconsistent
            (the message names the file).
        """
        try:
            with h5py.File(path, "r") as handle:
                if handle.attrs.get("format") != FORMAT:
                    raise InputError(f"{path}: not an rnngmm GMM file "
                                     f"(format={handle.attrs.get('format')!r})")
                version = int(handle.attrs.get("format_version", -1))
                if version != FORMAT_VERSION:
                    raise InputError(f"{path}: unsupported GMM format version {version}")
                missing = [k for k in ("phi", "mu", "cov", "train_energy", "percentiles")
                           if k not in handle]
                if missing:
                    raise InputError(f"{path}: GMM file lacks {missing}")
                arrays = {k: handle[k][()] for k in
                          ("phi", "mu", "cov", "train_energy", "percentiles")}
                jitter = float(handle.attrs.get("jitter", 1e-6))
                # files written before the class-fair score: energy, no classes
                score = str(handle.attrs.get("novelty_score", "energy"))
                train_class = handle["train_class"][()] if "train_class" in handle else None
                train_max_probability = (handle["train_max_probability"][()]
                                         if "train_max_probability" in handle else None)
                sampling = ({k: v[()] for k, v in handle["sampling_reference"].items()}
                            if "sampling_reference" in handle else None)
        except InputError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{path}: cannot read GMM file ({exc})") from None
        for name in ("phi", "mu", "cov"):
            if not np.all(np.isfinite(arrays[name])):
                raise InputError(f"{path}: GMM parameter {name!r} is not finite")
        try:
            detector = cls.from_parameters(arrays["phi"], arrays["mu"], arrays["cov"],
                                           arrays["train_energy"], jitter=jitter,
                                           percentiles=arrays["percentiles"],
                                           train_class=train_class, novelty_score=score,
                                           train_max_probability=train_max_probability)
            if sampling is not None:
                detector.sampling_percentile_ = SamplingPercentile.from_arrays(sampling)
            return detector
        except (ValueError, KeyError) as exc:
            raise InputError(f"{path}: inconsistent GMM file ({exc})") from None


def _check_shapes(phi, mu, cov):
    if (phi.ndim != 1 or mu.ndim != 2 or cov.ndim != 3 or len(mu) != len(phi)
            or cov.shape != (len(phi), mu.shape[1], mu.shape[1])):
        raise ValueError(f"GMM parameters have inconsistent shapes: phi {phi.shape}, "
                         f"mu {mu.shape}, cov {cov.shape}")
