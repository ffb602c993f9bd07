"""Hyper-parameter search over ``rnngmm train`` settings (``rnngmm tune``).

Modules: :mod:`.space` (the search-space file), :mod:`.config` (``TuneConfig``),
:mod:`.study` (Optuna storage, trial quota, heartbeats and the stale-trial
sweep), :mod:`.objective` (validation figures and the per-epoch pruning
callback), :mod:`.loco` (the leave-one-class-out objective: one run per
held-out class), :mod:`.runner` (the rank-parallel trial loop) and
:mod:`.report` (trials table, parameter importances, best run).
"""
