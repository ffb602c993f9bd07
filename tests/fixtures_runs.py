"""Constants of the tiny trained test run (tests of score, flag, loco and SLURM scripts).

The ``tiny_run_dir`` fixture itself (session scope, trained once with these
flags) lives in ``tests/conftest.py``: a test just names it as an argument.
Do not import it into a test module: that would give the module its own copy
of the fixture, trained again.
"""

#: ``rnngmm train`` flags of the tiny test model (also used by loco tests).
TINY_TRAIN_FLAGS = ("--config", "tiny", "--n_min", "20", "--gmm_on", "--nb_epoch", "1",
                    "--batch_size", "64", "--threads", "1", "--patience", "0")

#: Novel class of ``tiny_run_dir``.
TINY_NOVEL_CLASS = "RCB"
