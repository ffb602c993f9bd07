"""``rnngmm flag`` under mpirun: same output as one process, and a failing or
killed rank ends the whole job promptly with a non-zero exit code."""

import time

import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import mpirun, run_cli
from rnngmm.debug import FLAG_FAULT as FAULT_ENV
from rnngmm.flagging.table import read_table

pytestmark = [pytest.mark.mpi, pytest.mark.slow]

#: Seconds within which a job with a dead rank must have ended (it takes a few
#: seconds to start TensorFlow on each rank; the rest is mpirun's detection).
DEAD_RANK_LIMIT = 90


@pytest.mark.parametrize("suffix", [".ecsv", ".h5"])  # text appended; HDF5 rows appended
def test_two_ranks_write_the_single_process_file(tiny_run_dir, new_catalog,
                                                 tmp_path, suffix):
    single = tmp_path / f"single{suffix}"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, single)) == 0
    double = tmp_path / f"double{suffix}"
    result = mpirun(2, "-m", "rnngmm.cli", *flag_args(tiny_run_dir, new_catalog, double),
                    timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("rnngmm flag: wrote") == 1, "only rank 0 reports"
    one, two = read_table(str(single)), read_table(str(double))
    assert two.meta["n_ranks"] == 2 and one.meta["n_ranks"] == 1
    assert one.colnames == two.colnames
    for name in one.colnames:
        np.testing.assert_array_equal(np.asarray(two[name]), np.asarray(one[name]),
                                      err_msg=name)


@pytest.mark.parametrize("fault, expected", [("1:kill:0", None), ("1:raise:1", "injected")])
def test_a_failed_rank_ends_the_job(tiny_run_dir, new_catalog, tmp_path,
                                    monkeypatch, fault, expected):
    out = tmp_path / "flags.ecsv"
    monkeypatch.setenv(FAULT_ENV, fault)
    start = time.monotonic()
    result = mpirun(2, "-m", "rnngmm.cli", *flag_args(tiny_run_dir, new_catalog, out),
                    timeout=DEAD_RANK_LIMIT + 60)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    assert elapsed < DEAD_RANK_LIMIT, f"job took {elapsed:.0f} s to end after a rank died"
    assert not out.exists(), "an output was written although a rank failed"
    if expected:
        assert expected in result.stderr
