"""Class frequencies: training class weights and a new catalog's class priors.

Two sides of one question, how often each class occurs. In training,
:func:`balanced_class_weights` (``--class_weight``, :func:`class_weight_power`)
weights the cross-entropy so rare classes count; at flag time the run's class
probabilities are re-weighted to the class mix of the new catalog (label shift,
below), for which :func:`classifier_training_prior` undoes those weights.

Class priors of a new catalog under label shift (the EM of Saerens et al. 2002).

A classifier trained where class ``c`` has the prior ``pi_c`` outputs
posteriors ``p(c|x)`` proportional to ``p(x|c) pi_c``. On a catalog whose
classes are mixed as ``q_c`` but whose objects of each class look the same
(label shift: ``p(x|c)`` unchanged), the posterior becomes

    p'(c|x) = p(c|x) q_c / pi_c / sum_k p(k|x) q_k / pi_k.

``q`` is unknown; Saerens, Latinne & Decaestecker (2002, "Adjusting the
outputs of a classifier to new a priori probabilities: a simple procedure",
Neural Computation 14, 21) estimate it by EM: start at ``q = pi``, re-weight
the posteriors, set ``q`` to their mean over the catalog, repeat. Each step
does not lower the catalog's likelihood.

``pi`` must be the prior the posteriors are fitted to, which is not the
training set's class frequencies when the cross-entropy was weighted:
:func:`classifier_training_prior` gives it for the run's ``--class_weight``.

Pure numpy. The EM takes the posteriors as one array or as blocks, and a
``total`` function that sums the blocks' partial sums, so that ranks holding
different blocks can run it together (:mod:`rnngmm.flagging.catalog_pass`).
"""

from dataclasses import dataclass

import numpy as np

#: EM stops when no prior moves by more than this between iterations.
EM_TOLERANCE = 1e-8
#: ... or after this many iterations (reported as not converged).
EM_MAX_ITERATIONS = 1000


@dataclass
class PriorEstimate:
    """Result of :func:`em_class_priors`.

    Attributes
    ----------
    prior : ndarray (K,)
        Estimated class mix of the catalog (sums to 1).
    prob : ndarray (n, K) or list of ndarray
        The posteriors re-weighted to ``prior`` (blocks when blocks were given).
    iterations : int
    converged : bool
        False when ``max_iter`` was reached first.
    n_objects : int
        Objects the estimate rests on.
    """

    prior: np.ndarray
    prob: object
    iterations: int
    converged: bool
    n_objects: int


def normalized_prior(prior, n_classes=None, name="prior"):
    """``prior`` as a float64 array summing to 1.

    Raises
    ------
    ValueError
        If it is not 1-D, has the wrong length, or has a value that is not
        finite and positive.
    """
    prior = np.asarray(prior, np.float64)
    if prior.ndim != 1 or (n_classes is not None and len(prior) != n_classes):
        raise ValueError(f"{name} must have one value per class ({n_classes}); "
                         f"got shape {prior.shape}")
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(f"{name} must be finite and positive for every class; got "
                         f"{prior.tolist()}")
    return prior / prior.sum()


def reweight(prob, train_prior, new_prior):
    """Posteriors moved from the prior ``train_prior`` to ``new_prior``.

    Parameters
    ----------
    prob : array_like (n, K)
        Class posteriors (rows sum to 1) under ``train_prior``.
    train_prior, new_prior : array_like (K,)

    Returns
    -------
    ndarray (n, K)
        Rows sum to 1. A row whose re-weighted mass is 0 (every class it
        gives weight to has prior 0) keeps its input values.
    """
    prob = np.asarray(prob, np.float64)
    weights = np.asarray(new_prior, np.float64) / np.asarray(train_prior, np.float64)
    moved = prob * weights
    mass = moved.sum(axis=1, keepdims=True)
    safe = mass > 0
    return np.where(safe, moved / np.where(safe, mass, 1.0), prob)


def _check_posteriors(blocks, n_classes):
    for k, block in enumerate(blocks):
        if block.ndim != 2 or block.shape[1] != n_classes:
            raise ValueError(f"posteriors (block {k}) must have shape (n, {n_classes}); "
                             f"got {block.shape}")
        if not np.all(np.isfinite(block)) or np.any(block < 0):
            raise ValueError(f"posteriors (block {k}) must be finite and non-negative")


def _sum_in_order(partials):
    return np.sum(np.stack(partials), axis=0) if partials else None


def em_class_priors(prob, train_prior, *, tol=EM_TOLERANCE, max_iter=EM_MAX_ITERATIONS,
                    total=None):
    """EM estimate of a catalog's class mix from a classifier's posteriors.

    Parameters
    ----------
    prob : array_like (n, K), or a list of 2-D arrays (blocks, maybe none)
        Each object's class posteriors under ``train_prior`` (rows are
        normalised to sum to 1 first).
    train_prior : array_like (K,)
        The prior the posteriors are fitted to (positive).
    tol : float
        Stop when no prior changes by more than ``tol``.
    max_iter : int
    total : callable, optional
        Maps the list of the blocks' partial sums (each a ``(K + 1,)`` array:
        the re-weighted posteriors summed over the block, then its number of
        objects) to their sum over ALL blocks, e.g. over every MPI rank. It
        must return the same value on every rank; the default sums the given
        list in order.

    Returns
    -------
    PriorEstimate

    Raises
    ------
    ValueError
        For posteriors that are not finite, negative, of the wrong width or
        with a row summing to 0, a bad ``train_prior``, or no object at all.
    """
    # A list of 2-D blocks (possibly none, e.g. on a rank without objects).
    single = not (isinstance(prob, (list, tuple)) and all(np.ndim(b) == 2 for b in prob))
    blocks = [np.asarray(b, np.float64) for b in ([prob] if single else prob)]
    train_prior = normalized_prior(train_prior, name="train_prior")
    n_classes = len(train_prior)
    blocks = [b.reshape(-1, n_classes) if b.size == 0 else b for b in blocks]
    _check_posteriors(blocks, n_classes)
    sums = [b.sum(axis=1, keepdims=True) for b in blocks]
    if any(np.any(s <= 0) for s in sums):
        raise ValueError("posteriors: a row sums to 0")
    blocks = [b / s for b, s in zip(blocks, sums)]
    total = total or _sum_in_order

    def mean_posterior(prior):
        partials = [np.append(reweight(b, train_prior, prior).sum(axis=0), len(b))
                    for b in blocks]
        summed = total(partials)
        if summed is None or summed[-1] < 1:
            raise ValueError("no object to estimate class priors from")
        return summed[:-1] / summed[-1], int(summed[-1])

    prior, converged, iterations, n_objects = train_prior, False, 0, 0
    while iterations < max_iter:
        new, n_objects = mean_posterior(prior)
        new = new / new.sum()
        iterations += 1
        change = np.max(np.abs(new - prior))
        prior = new
        if change <= tol:
            converged = True
            break
    adjusted = [reweight(b, train_prior, prior) for b in blocks]
    return PriorEstimate(prior=prior, prob=adjusted[0] if single else adjusted,
                         iterations=iterations, converged=converged, n_objects=n_objects)


def classifier_training_prior(mixture_weights, class_weights=None, power=0.0):
    """The class prior a run's classifier posteriors are fitted to.

    A softmax trained with a cross-entropy that weights class ``c`` by
    ``w_c`` over ``n_c`` training chunks is fitted to the prior
    ``pi_c`` proportional to ``n_c w_c`` (it minimises the unweighted
    cross-entropy of a training set with that class mix).

    - No weighting (``power`` 0 or no ``class_weights``): ``pi_c`` is the
      chunk frequency ``n_c / n``. The run does not store the counts, but its
      mixture weights ``phi_`` (the mean training posterior) equal them at
      the optimum of the cross-entropy (the gradient of the softmax bias is
      ``sum_i (p_ic - y_ic)``), so they are used.
    - ``--class_weight`` of power ``p > 0`` (``rnngmm.training.data.
      balanced_class_weights``: ``w_c = (n / (K n_c)) ** p``): ``n_c`` is
      proportional to ``w_c ** (-1 / p)``, so ``pi_c`` is proportional to
      ``w_c ** (1 - 1 / p)``; ``balanced`` (``p`` 1) gives equal priors.

    Label smoothing is ignored (it pulls posteriors towards equal values).

    Parameters
    ----------
    mixture_weights : array_like (K,)
        ``GMMNovelty.phi_`` of the run.
    class_weights : array_like (K,), optional
        The cross-entropy weights the run trained with (its ``config.json``
        ``model.class_weights``).
    power : float
        The ``--class_weight`` power (``class_weight_power``).

    Returns
    -------
    prior : ndarray (K,)
    source : str
        How it was obtained (for the output's metadata).
    """
    if class_weights is None or float(power) <= 0:
        return (normalized_prior(mixture_weights, name="mixture weights phi_"),
                "mixture weights phi_ of the run (training chunk class frequencies; the "
                "cross-entropy was not class-weighted)")
    power = float(power)
    weights = normalized_prior(class_weights, len(np.asarray(mixture_weights)),
                               name="class_weights")
    return (normalized_prior(weights ** (1.0 - 1.0 / power)),
            f"class weights of the run (--class_weight power {power:g}: prior "
            f"proportional to w ** (1 - 1/{power:g}))")


def balanced_class_weights(labels, num_classes, power=1.0):
    """Cross-entropy weights ``(n / (K n_k)) ** power`` from the training labels.

    With ``power`` 1 a class with ``n_k`` of the ``n`` chunks gets weight
    ``n / (K n_k)``, where ``K`` counts the classes that have chunks, so every
    such class contributes the same total weight and the chunk-weighted mean
    of the weights is 1 ("balanced"). ``power`` 0 weights every chunk the
    same; values between trade rare-class recall against the precision that
    full balancing costs on a catalogue dominated by common classes. A class
    without chunks gets weight 1.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Class index of each training chunk.
    num_classes : int
    power : float
        In [0, 1].

    Returns
    -------
    list of float, length ``num_classes``
    """
    counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes)
    total, present = counts.sum(), np.count_nonzero(counts)
    return [float((total / (present * c)) ** power) if c else 1.0 for c in counts]


def class_weight_power(setting):
    """The power of :func:`balanced_class_weights` that ``--class_weight`` names.

    ``"none"`` is 0, ``"balanced"`` is 1, ``"sqrt"`` is 0.5 and a number in
    [0, 1] is itself; anything else raises ``ValueError``.
    """
    named = {"none": 0.0, "balanced": 1.0, "sqrt": 0.5}
    text = str(setting).strip().lower()
    if text in named:
        return named[text]
    try:
        power = float(text)
    except ValueError:
        power = float("nan")
    if not 0.0 <= power <= 1.0:
        raise ValueError(f"--class_weight {setting!r}: use none, balanced, sqrt or a "
                         "power between 0 and 1")
    return power
