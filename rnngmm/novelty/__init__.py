"""Novelty: how unlike the known classes an object is, and where to flag it.

One vocabulary:

- *energy*: the sample energy of an object's code under the run's Gaussian
  mixture (:mod:`.mixture`, ``GMMNovelty``); HIGHER = more anomalous.
- *novelty score*: what a run ranks and flags by (``NOVELTY_SCORES``): the
  energy itself, or a *class-fair* score (:mod:`.class_fair`): the energy's
  percentile among training objects of the same predicted class.
- *alternative scores* (:mod:`.alternative_scores`): other scores measured
  beside the energy in ``rnngmm score``.
- *thresholds* (:mod:`.thresholds`): the score values that flag objects, taken
  from the training objects (default) or from a new catalog itself
  (``--calibrate catalog``). "Calibrate" means only this: choosing thresholds.
"""
