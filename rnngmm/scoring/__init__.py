"""Scoring stage: metrics, figures, baselines and reports of a trained run.

Modules
-------
metrics     classification and novelty metrics (pure numpy / sklearn)
plots       confusion matrices, energy histograms, ROC/PR curves (Agg backend)
features    hand-crafted ``light-curve`` features, cached next to the dataset
baselines   random forests and isolation forest on the same split
report      text/JSON/ECSV/HDF5/markdown writers
score       the ``rnngmm score`` driver
loco        the leave-one-class-out experiment driver
"""
