"""Issue 7, fuzzing: hypothesis mixes broken objects into valid ones and runs
the catalog through ``prepare`` and ``flag`` (the real flagging driver and the
tiny trained model, loaded once).

For every generated case it asserts that
* no exception escapes either stage;
* every catalog row appears exactly once in each output: prepare's dataset
  (first row of an id) or its rejects table, flag's table (one row per
  catalog row, in order) with "ok" or a non-empty reason;
* the valid objects' results do not depend on their bad neighbours: the
  prepared light curves and periods are identical, and the flag results
  (status, period, class probabilities, energy, its percentile) match a run
  over the valid objects alone.

The number of cases run and of objects lost is printed at the end of the
module ("fuzz: N cases ...") and, when ``RNNGMM_FUZZ_RECORD`` names a file,
appended to it as one JSON line (for BENCHMARKS.md).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnngmm.dist import Dist
from rnngmm.flagging.driver import FlagJob, run_flagging
from rnngmm.flagging.scorer import ModelScorer
from rnngmm.flagging.sources import CatalogSource
from rnngmm.io.dataset import Dataset
from rnngmm.prepare import PrepareConfig, prepare, rejects_path

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("RNNGMM_FUZZ_EXAMPLES", "60"))

#: Broken kinds (anything but "valid"); each ends as a reason or a kept object.
FAULTS = ("empty", "onepoint", "fewpoints", "nanmag", "infmag", "zeroerr", "negerr",
          "nanerr", "somebad", "unsorted", "jdmixed", "alljd", "constant", "period0",
          "periodneg", "periodlong", "textmag", "wrongcols", "binary", "notutf8",
          "missing", "duplicate", "unsafe", "junkline", "hugevalues")

COUNTS = {"cases": 0, "objects": 0, "valid_objects": 0, "lost": 0, "exceptions": 0}


def curve(rng, n):
    period = float(rng.uniform(0.2, 3.0))
    time = 54000.0 + np.sort(rng.uniform(0, 700, n))
    mag = (float(rng.uniform(11, 17)) + float(rng.uniform(0.05, 1.0))
           * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.02, n))
    err = rng.uniform(0.01, 0.05, n)
    return time, mag, err, period


def crts(time, mag, err):
    return "".join(f"{float(t)!r} {float(m)!r} {float(e)!r}\n" for t, m, e in zip(time, mag, err))


def make_object(kind, seed, n_points, earlier_ids, k):
    """(id, file content or None, catalog period text) of one object."""
    rng = np.random.default_rng(seed)
    time, mag, err, period = curve(rng, n_points)
    object_id = f"obj{k}"
    text, period_text = None, f"{period!r}"
    if kind == "valid":
        text = crts(time, mag, err)
    elif kind == "empty":
        text = ""
    elif kind == "onepoint":
        text = crts(time[:1], mag[:1], err[:1])
    elif kind == "fewpoints":
        text = crts(time[:5], mag[:5], err[:5])
    elif kind in ("nanmag", "infmag"):
        text = crts(time, np.full(n_points, np.nan if kind == "nanmag" else -np.inf), err)
    elif kind in ("zeroerr", "negerr", "nanerr"):
        bad = {"zeroerr": 0.0, "negerr": -0.02, "nanerr": np.nan}[kind]
        text = crts(time, mag, np.full(n_points, bad))
    elif kind == "somebad":
        err[rng.choice(n_points, 3, replace=False)] = [0.0, -1.0, np.nan]
        mag[rng.integers(n_points)] = np.inf
        text = crts(time, mag, err)
    elif kind == "unsorted":
        order = rng.permutation(n_points)
        repeat = rng.integers(0, n_points, 10)
        text = crts(np.r_[time[order], time[repeat]], np.r_[mag[order], mag[repeat]],
                    np.r_[err[order], err[repeat]])
    elif kind == "jdmixed":
        time[rng.choice(n_points, max(1, n_points // 3), replace=False)] += 2400000.5
        text = crts(time, mag, err)
    elif kind == "alljd":
        text = crts(time + 2400000.5, mag, err)
    elif kind == "constant":
        text = crts(time, np.full(n_points, 14.25), err)
        period_text = rng.choice(["", period_text])
    elif kind == "period0":
        text, period_text = crts(time, mag, err), "0"
    elif kind == "periodneg":
        text, period_text = crts(time, mag, err), "-1.5"
    elif kind == "periodlong":
        text, period_text = crts(time, mag, err), "99999"
    elif kind == "textmag":
        lines = crts(time, mag, err).splitlines()
        where = int(rng.integers(len(lines)))
        lines[where] = lines[where].split()[0] + " 12.3abc 0.02"
        text = "\n".join(lines) + "\n"
    elif kind == "wrongcols":
        lines = crts(time, mag, err).splitlines()
        where = int(rng.integers(len(lines)))
        lines[where] += " 7"
        text = "\n".join(lines) + "\n"
    elif kind == "binary":
        text = rng.bytes(int(rng.integers(1, 600)))
        if b"\x00" not in text:
            text += b"\x00"
    elif kind == "notutf8":
        text = crts(time, mag, err).encode() + b"\xff\xfe 1 2\n"
    elif kind == "missing":
        pass
    elif kind == "duplicate":
        if earlier_ids:
            object_id = earlier_ids[int(rng.integers(len(earlier_ids)))]
        text = None
    elif kind == "unsafe":
        object_id = rng.choice(["../obj0", "/etc/passwd", "..", "a/../../b", "../../x"])
    elif kind == "junkline":
        text = crts(time, mag, err) + "# comment\n\n" + "nan nan nan\n" + "1e308 1e308 1e308\n"
    elif kind == "hugevalues":
        mag[: n_points // 2] = 1e30
        text = crts(time, mag, err)
    return str(object_id), text, period_text


object_spec = st.tuples(
    st.one_of(st.just("valid"), st.sampled_from(FAULTS)),
    st.integers(0, 2 ** 31 - 1),
    st.integers(20, 90))

case_spec = st.tuples(
    st.lists(object_spec, min_size=2, max_size=9),
    st.integers(1, 6),   # batch_objects
    st.integers(1, 8))   # shard_objects


@pytest.fixture(scope="module")
def loaded(tiny_run_dir, request):
    from rnngmm.rundir import load_run
    run = load_run(tiny_run_dir)
    yield run
    line = (f"fuzz: {COUNTS['cases']} cases, {COUNTS['objects']} objects "
            f"({COUNTS['valid_objects']} valid), {COUNTS['lost']} lost, "
            f"{COUNTS['exceptions']} exceptions escaped")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:  # shown even when output is captured
        with capture.global_and_fixture_disabled():
            print("\n" + line, flush=True)
    else:
        print(line, file=sys.stderr)
    record = os.environ.get("RNNGMM_FUZZ_RECORD")
    if record:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(COUNTS, max_examples=MAX_EXAMPLES)) + "\n")


def write_case(directory, objects):
    lc = directory / "lc"
    lc.mkdir()
    rows = []
    for object_id, text, period_text in objects:
        rows.append(f"{object_id},{period_text},X")
        if text is None or "/" in object_id or object_id in (".", ".."):
            continue
        path = lc / f"{object_id}.dat"
        if path.exists():
            continue
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    catalog = directory / "catalog.csv"
    catalog.write_text("id,period,class\n" + "\n".join(rows) + "\n")
    return catalog, lc


def run_prepare(catalog, lc, out):
    prepare(PrepareConfig(catalog=str(catalog), lightcurves=str(lc), output=str(out),
                          format="crts", label_col="class", period_col="period",
                          min_points=20), log=lambda *a: None)
    rejects = Table.read(rejects_path(out), format="ascii.ecsv")
    with Dataset(out) as data:
        kept = {object_id: (data.lightcurve(i), data.periods[i], data.period_sources[i])
                for i, object_id in enumerate(data.ids)}
    return kept, rejects


def run_flag(run, catalog, lc, out, batch_objects, shard_objects):
    source = CatalogSource(str(catalog), str(lc), "crts", id_col="id", period_col="period",
                           pass_through=["class"], label_col="class")
    job = FlagJob(source=source, scorer=ModelScorer(run.model, run.novelty, 64),
                  novelty=run.novelty, class_names=run.class_names,
                  preprocessing=run.preprocessing, chunking=run.chunking, out=str(out),
                  run_id="fuzz", batch_objects=batch_objects, shard_objects=shard_objects,
                  progress_interval=1e9)
    return run_flagging(job, Dist())


def check_prepare(ids, kept, rejects):
    rows = list(rejects["catalog_row"])
    assert len(rows) == len(set(rows)), "a catalog row was rejected twice"
    assert all(str(ids[r]) == str(i) for r, i in zip(rows, rejects["id"]))
    assert all(len(str(reason)) > 0 for reason in rejects["reason"])
    kept_rows = [ids.index(object_id) for object_id in kept]
    assert not set(kept_rows) & set(rows), "a row was both kept and rejected"
    assert sorted(kept_rows + rows) == list(range(len(ids))), "a catalog row was lost"


def check_flag(ids, table):
    assert list(table["id"]) == ids, "flag lost, added or reordered rows"
    assert all(len(str(s)) > 0 for s in table["status"]), "a row has no status"


# derandomize and print_blob come from the hypothesis profile of tests/conftest.py
# ("ci", derandomised, by default; HYPOTHESIS_PROFILE=dev explores randomly).
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=case_spec)
def test_faults_mixed_into_valid_data(loaded, case):
    specs, batch_objects, shard_objects = case
    COUNTS["cases"] += 1
    objects, valid = [], []
    for k, (kind, seed, n_points) in enumerate(specs):
        earlier = [o[0] for o in objects]
        objects.append(make_object(kind, seed, n_points, earlier, k))
        if kind == "valid":
            valid.append(objects[-1])
    ids = [o[0] for o in objects]
    COUNTS["objects"] += len(ids)
    COUNTS["valid_objects"] += len(valid)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "mixed").mkdir()
        (tmp / "alone").mkdir()
        catalog, lc = write_case(tmp / "mixed", objects)
        try:
            kept, rejects = run_prepare(catalog, lc, tmp / "mixed" / "d.h5")
            table = run_flag(loaded, catalog, lc, tmp / "mixed" / "f.ecsv",
                             batch_objects, shard_objects)
        except Exception:
            COUNTS["exceptions"] += 1
            raise
        try:
            check_prepare(ids, kept, rejects)
            check_flag(ids, table)
        except AssertionError:
            COUNTS["lost"] += 1
            raise
        if not valid:
            return
        alone_catalog, alone_lc = write_case(tmp / "alone", valid)
        kept_alone, _ = run_prepare(alone_catalog, alone_lc, tmp / "alone" / "d.h5")
        table_alone = run_flag(loaded, alone_catalog, alone_lc, tmp / "alone" / "f.ecsv",
                               batch_objects, shard_objects)
    valid_ids = [o[0] for o in valid]
    # valid objects: always kept/scored, and unaffected by their neighbours
    for object_id in valid_ids:
        assert object_id in kept and object_id in kept_alone, object_id
        (a_lc, a_period, a_source), (b_lc, b_period, b_source) = kept[object_id], \
            kept_alone[object_id]
        for x, y in zip(a_lc, b_lc):
            np.testing.assert_array_equal(x, y)
        assert a_period == b_period and a_source == b_source
    mixed_rows = [ids.index(object_id) for object_id in valid_ids]
    assert list(table_alone["id"]) == valid_ids
    assert set(table_alone["status"]) == {"ok"}
    assert [table["status"][r] for r in mixed_rows] == ["ok"] * len(valid_ids)
    numeric = ["period", "energy", "energy_percentile", "class_probability", "n_chunks"]
    numeric += [c for c in table.colnames if c.startswith("prob_")]
    for name in numeric:
        np.testing.assert_allclose(np.asarray(table[name], float)[mixed_rows],
                                   np.asarray(table_alone[name], float),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    for name in ["predicted_class", "period_source"]:
        assert list(table[name][mixed_rows]) == list(table_alone[name]), name
