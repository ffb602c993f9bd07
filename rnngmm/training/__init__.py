"""Training stage (``rnngmm train``, ``rnngmm adapt``): data, loop, checkpoints, driver.

Modules: :mod:`.config` (``TrainConfig``), :mod:`.options` (model and loop
settings from it), :mod:`.data` (split, per-rank chunks, epoch batches),
:mod:`.augment` and :mod:`.reobserve` (training copies), :mod:`.loop` (stages
and time budget), :mod:`.cached` (the estimation stage on a frozen
autoencoder's outputs), :mod:`.gmm_fit` (the mixture of the whole training
set), :mod:`.checkpoint`, :mod:`.distributed` (horovod collectives),
:mod:`.signals`, :mod:`.driver` (``run_training``) and :mod:`.adapt`.
"""
