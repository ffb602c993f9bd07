"""Shard plan and shard files of ``rnngmm flag``."""

import numpy as np
import pytest

from rnngmm.flagging import shards as sh
from rnngmm.flagging.results import RowResults, read_shard, write_shard


def test_plan_covers_every_row_once_independent_of_ranks():
    plan = sh.plan_shards(23, 5)
    assert [(s.start, s.stop) for s in plan] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23)]
    for size in (1, 2, 3, 7):
        shares = [sh.shards_of_rank(plan, rank, size) for rank in range(size)]
        rows = np.sort(np.concatenate([s.rows for share in shares for s in share]))
        assert list(rows) == list(range(23))
    assert sh.plan_shards(0, 5) == []
    with pytest.raises(ValueError):
        sh.plan_shards(10, 0)


def test_shard_file_round_trip_and_mismatch(tmp_path):
    results = RowResults.empty(3, 2)
    results.status[:] = ["ok", "empty file", "ok"]
    results.prob[[0, 2]] = [[0.5, 0.5], [0.1, 0.9]]
    results.energy[[0, 2]] = [1.0, 2.0]
    path = str(tmp_path / "shard-000004.h5")
    write_shard(path, results, shard=4, start=12, stop=15)
    back = read_shard(path, shard=4, start=12, stop=15, n_classes=2)
    assert list(back.status) == ["ok", "empty file", "ok"]
    np.testing.assert_array_equal(back.prob, results.prob)
    assert read_shard(path, shard=4, start=12, stop=16, n_classes=2) is None
    assert read_shard(path, shard=4, start=12, stop=15, n_classes=3) is None
    assert read_shard(str(tmp_path / "absent.h5"), shard=0, start=0, stop=1, n_classes=2) is None
    with pytest.raises(ValueError):
        write_shard(path, results, shard=4, start=12, stop=20)
