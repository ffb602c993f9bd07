"""``rnngmm flag --calibrate catalog --estimate_priors`` under mpirun: the
thresholds and the class mix are computed over every rank's objects, so two
ranks write the one-process file, metadata included."""

import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import mpirun, run_cli
from rnngmm.flagging.table import read_table

pytestmark = [pytest.mark.mpi, pytest.mark.slow]

CALIBRATED = ("--calibrate", "catalog", "--contamination", "0.02", "--estimate_priors")


def test_two_ranks_calibrate_on_the_whole_catalog(tiny_run_dir, new_catalog,
                                                  tmp_path):
    single = tmp_path / "single.ecsv"
    assert run_cli(*flag_args(tiny_run_dir, new_catalog, single, *CALIBRATED)) == 0
    double = tmp_path / "double.ecsv"
    result = mpirun(2, "-m", "rnngmm.cli",
                    *flag_args(tiny_run_dir, new_catalog, double, *CALIBRATED), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("flag rate per predicted class") == 1, "only rank 0 reports"
    one, two = read_table(str(single)), read_table(str(double))
    assert one.meta["n_ranks"] == 1 and two.meta["n_ranks"] == 2
    # Shards of 10 rows: each rank held only part of the objects.
    assert one.meta["n_calibration_objects"] > 20
    for key in ("catalog_thresholds", "training_thresholds", "flag_rate_by_class",
                "flag_rate_overall", "class_priors", "n_calibration_objects"):
        assert two.meta[key] == one.meta[key], key
    assert one.colnames == two.colnames and "network_class" in one.colnames
    for name in one.colnames:
        np.testing.assert_array_equal(np.asarray(two[name]), np.asarray(one[name]),
                                      err_msg=name)
