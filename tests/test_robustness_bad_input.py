"""Issue 7, bad input: one catalog holding every kind of broken object, run
through ``rnngmm prepare`` AND ``rnngmm flag`` (real CLI, in-process).

Each broken object must end with a clear, per-object reason (the rejects
table of prepare, the ``status`` column of flag) while the good objects are
still prepared and scored: one bad object never stops the job.

What happens to the awkward cases that are not rejections (asserted below):

* unsorted / duplicated epochs, a few JD epochs among MJDs, a few zero,
  negative or NaN errors: the bad points are dropped (counted in prepare's
  summary) and the object is kept.
* constant magnitude: kept; standardisation floors the spread
  (``preprocess.MIN_STD``) so the network inputs and energy are finite.
* catalog period 0, negative or NaN: treated as "no catalog period", so the
  period is searched with Lomb-Scargle (period_source "lomb-scargle").
* catalog period longer than the baseline, or below the plausible 1e-3 d:
  prepare and flag both fall back to Lomb-Scargle (one period rule).
* catalog period that is not a number ("abc"): that row alone is rejected
  ("catalog period 'abc' is not a number", in prepare's rejects table and
  flag's status column); the rest of the catalog is processed.
* a UTF-8 byte-order mark, or one header line of column names, at the start
  of a light-curve file: read like the plain file.
* fill values (magnitude 1e30, -99.99 with error 99.99): the points are
  dropped ("implausible magnitude" / "implausible error"); an object of
  nothing else is rejected with "no usable points (...)".
* light-curve files with no catalog row: ignored by both commands (the
  catalog defines the objects); they appear in no output.
* labels outside the run's classes: flag scores them normally (that is what
  novelty detection is for), passes the label through and counts them in its
  summary; prepare with ``--class_map`` rejects labels not in the map.
"""

import numpy as np
import pytest
from astropy.table import Table

from helpers import run_cli
from rnngmm.flagging.table import read_table
from rnngmm.io.dataset import Dataset
from rnngmm.prepare import rejects_path

N_POINTS = 80
START = 53500.0


def good_curve(seed, n=N_POINTS, period=0.7):
    rng = np.random.default_rng(seed)
    time = START + np.sort(rng.uniform(0, 600, n))
    mag = 15 + 0.4 * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.02, n)
    err = np.full(n, 0.03)
    return time, mag, err


def crts_text(time, mag, err):
    return "".join(f"{float(t)!r} {float(a)!r} {float(b)!r}\n"
                   for t, a, b in zip(time, mag, err))


def build_case(directory):
    """Write the light curves and catalog; returns (catalog, lc dir, expectations).

    expectations: id -> (prepare expectation, flag expectation), each either
    "ok" (kept / scored) or the start of the reason.
    """
    lc = directory / "lc"
    lc.mkdir()
    files, rows, expect = {}, [], {}

    def add(object_id, text, period="0.7", label="A", prepare="ok", flag="ok"):
        if text is not None:
            files[object_id] = text
        rows.append(f"{object_id},{period},{label}")
        expect.setdefault(object_id, (prepare, flag))

    t, m, e = good_curve(1)
    for k in range(4):
        add(f"good{k}", crts_text(*good_curve(10 + k)))
    add("empty", "", prepare="empty file", flag="empty file")
    add("whitespace", "  \n\n", prepare="empty file", flag="empty file")
    add("onepoint", crts_text(t[:1], m[:1], e[:1]),
        prepare="too few points", flag="too few points")
    add("nanmag", crts_text(t, np.full(N_POINTS, np.nan), e),
        prepare="no usable points (non-finite", flag="no usable points (non-finite")
    add("infmag", crts_text(t, np.full(N_POINTS, np.inf), e),
        prepare="no usable points (non-finite", flag="no usable points (non-finite")
    add("zeroerr", crts_text(t, m, np.zeros(N_POINTS)),
        prepare="no usable points (non-positive error", flag="no usable points")
    add("negerr", crts_text(t, m, -e), prepare="no usable points (non-positive error",
        flag="no usable points")
    add("nanerr", crts_text(t, m, np.full(N_POINTS, np.nan)),
        prepare="no usable points (non-finite", flag="no usable points")
    some_bad = e.copy()
    some_bad[:3] = [0.0, -0.1, np.nan]
    add("somebaderr", crts_text(t, m, some_bad))
    order = np.random.default_rng(2).permutation(N_POINTS)
    add("unsorted", crts_text(np.r_[t[order], t[:7]], np.r_[m[order], m[:7]],
                              np.r_[e[order], e[:7]]))
    jd = t.copy()
    jd[:4] += 2400000.5
    add("fewjd", crts_text(jd, m, e))
    half = t.copy()
    half[::2] += 2400000.5
    add("halfjd", crts_text(half, m, e), prepare="no usable points (implausible epoch",
        flag="no usable points")
    add("constant", crts_text(t, np.full(N_POINTS, 14.0), e))
    add("constant_noperiod", crts_text(t, np.full(N_POINTS, 14.0), e), period="",
        prepare="no usable period", flag="no usable period")  # one period rule
    add("period0", crts_text(*good_curve(20)), period="0")
    add("periodneg", crts_text(*good_curve(21)), period="-3.5")
    # one period rule in prepare and flag: unusable catalog periods are searched
    add("periodlong", crts_text(*good_curve(22)), period="5000")
    add("periodtiny", crts_text(*good_curve(23)), period="1e-9")
    add("textmag", crts_text(t[:5], m[:5], e[:5]).replace(repr(float(m[2])), "bright"),
        prepare="non-numeric mag value 'bright'", flag="non-numeric mag value 'bright'")
    add("textlater", crts_text(t, m, e) + "53999.0 15.0 n/a\n",
        prepare="non-numeric err value 'n/a'", flag="non-numeric err value 'n/a'")
    add("fourcols", crts_text(t, m, e).replace("\n", " 1\n", 1),
        prepare="expected 3 columns", flag="expected 3 columns")
    add("twocols", "".join(f"{a} {b}\n" for a, b in zip(t, m)),
        prepare="expected 3 columns", flag="expected 3 columns")
    files["binary"] = bytes(range(256)) * 4
    add("binary", None, prepare="not a text file", flag="not a text file")
    files["latin1"] = crts_text(t, m, e).encode() + "caf\xe9\n".encode("latin-1")
    add("latin1", None, prepare="not a text file", flag="not a text file")
    add("nofile", None, prepare="light-curve file not found",
        flag="light-curve file not found")
    add("good0", None, period="0.9", label="B",
        prepare="duplicate catalog id (first at row 1)",
        flag="duplicate catalog id (first at row 1)")
    add("novel_label", crts_text(*good_curve(30)), label="NOT_A_CLASS")
    add("periodtext", crts_text(*good_curve(23)), period="abc",
        prepare="catalog period 'abc' is not a number",
        flag="catalog period 'abc' is not a number")
    files["bom"] = ("\ufeff" + crts_text(*good_curve(24))).encode("utf-8")
    add("bom", None)
    add("header", "MJD mag err\n" + crts_text(*good_curve(25)))
    add("csvheader", "time,mag,err\n" + crts_text(*good_curve(26)))
    add("commentheader", "\ufeff# CRTS star 26\nMJD Mag Magerr\n" + crts_text(*good_curve(27)))
    add("textafterheader", "MJD mag err\n" + crts_text(t, m, e) + "53999.0 bright 0.03\n",
        prepare="non-numeric mag value 'bright'", flag="non-numeric mag value 'bright'")
    sentinel_mag, sentinel_err = m.copy(), e.copy()
    sentinel_mag[:3], sentinel_err[:3] = -99.99, 99.99
    sentinel_mag[3], sentinel_err[4] = 1e30, 99.99
    add("somesentinels", crts_text(t, sentinel_mag, sentinel_err))
    add("allsentinels", crts_text(t, np.full(N_POINTS, -99.99), np.full(N_POINTS, 99.99)),
        prepare="no usable points (implausible magnitude: 80)", flag="no usable points")
    add("hugemag", crts_text(t, np.full(N_POINTS, 1e30), e),
        prepare="no usable points (implausible magnitude", flag="no usable points")
    files["orphan"] = crts_text(*good_curve(40))  # a file without a catalog row

    for name, content in files.items():
        path = lc / f"{name}.dat"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    catalog = directory / "catalog.csv"
    catalog.write_text("id,period,class\n" + "\n".join(rows) + "\n")
    ids = [r.split(",")[0] for r in rows]
    return catalog, lc, ids, expect


def check(value, expected, object_id):
    if expected == "ok":
        assert value == "ok", f"{object_id}: expected ok, got {value!r}"
    else:
        assert value.startswith(expected), f"{object_id}: expected {expected!r}..., got {value!r}"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build_case(tmp_path_factory.mktemp("bad_input"))


@pytest.fixture(scope="module")
def prepared(case, tmp_path_factory):
    catalog, lc, _, _ = case
    out = tmp_path_factory.mktemp("bad_input_prepared") / "data.h5"
    code = run_cli("prepare", "--catalog", catalog, "--lightcurves", lc, "--format", "crts",
                   "--period_col", "period", "--label_col", "class", "--min_points", "20",
                   "--output", out)
    assert code == 0
    return out


def test_prepare_accounts_for_every_catalog_row_with_a_reason(case, prepared, capsys):
    _, _, ids, expect = case
    rejects = Table.read(rejects_path(prepared), format="ascii.ecsv")
    with Dataset(prepared) as data:
        kept = list(data.ids)
        sources = dict(zip(data.ids, data.period_sources))
        lengths = dict(zip(data.ids, data.lengths))
        assert np.all(np.isfinite(data.periods)) and np.all(data.periods > 0)
    assert len(kept) + len(rejects) == len(ids), "a catalog row was lost or counted twice"
    assert list(rejects["catalog_row"]) == sorted(rejects["catalog_row"])
    reasons = {}
    for row, object_id, reason in zip(rejects["catalog_row"], rejects["id"], rejects["reason"]):
        assert ids[row] == object_id
        reasons[(row, object_id)] = str(reason)
    for row, object_id in enumerate(ids):
        if (row, object_id) in reasons:
            value = reasons[(row, object_id)]
        else:
            assert object_id in kept and ids.index(object_id) == row
            value = "ok"
        first = ids.index(object_id) == row
        check(value, expect[object_id][0] if first else "duplicate catalog id", object_id)
    assert "orphan" not in kept and "orphan" not in set(rejects["id"])
    # bad points dropped, object kept
    assert lengths["somebaderr"] == N_POINTS - 3
    assert lengths["unsorted"] == N_POINTS
    assert lengths["fewjd"] == N_POINTS - 4
    assert lengths["somesentinels"] == N_POINTS - 5
    for object_id in ("bom", "header", "csvheader", "commentheader"):
        assert lengths[object_id] == N_POINTS, object_id
    for object_id in ("period0", "periodneg", "periodlong", "periodtiny"):
        assert sources[object_id] == "lomb-scargle", object_id
    assert sources["good1"] == "catalog"


def test_prepare_keeps_constant_curve_and_reorders_unsorted(prepared):
    with Dataset(prepared) as data:
        index = {object_id: i for i, object_id in enumerate(data.ids)}
        time, mag, err = data.lightcurve(index["unsorted"])
        assert np.all(np.diff(time) > 0)
        time, mag, err = data.lightcurve(index["constant"])
        assert np.all(mag == 14.0)


def test_prepare_class_map_rejects_unknown_labels_per_object(case, tmp_path):
    catalog, lc, _, _ = case
    out = tmp_path / "mapped.h5"
    assert run_cli("prepare", "--catalog", catalog, "--lightcurves", lc, "--format", "crts",
                   "--period_col", "period", "--label_col", "class", "--class_map", "A:X",
                   "--output", out) == 0
    rejects = Table.read(rejects_path(out), format="ascii.ecsv")
    reasons = dict(zip(rejects["id"], rejects["reason"]))
    assert reasons["novel_label"] == "class not in class map (NOT_A_CLASS)"
    with Dataset(out) as data:
        assert "good1" in set(data.ids) and set(data.labels) == {"X"}


@pytest.fixture(scope="module")
def flagged(case, tiny_run_dir, tmp_path_factory):
    catalog, lc, _, _ = case
    out = tmp_path_factory.mktemp("bad_input_flagged") / "flags.ecsv"
    code = run_cli("flag", "--run_dir", tiny_run_dir, "--catalog", catalog, "--lightcurves", lc,
                   "--format", "crts", "--label_col", "class", "--output", out,
                   "--batch_objects", "5", "--shard_objects", "7", "--progress_interval", "0")
    assert code == 0
    return read_table(str(out))


@pytest.mark.slow
def test_flag_gives_every_catalog_row_a_status(case, flagged):
    _, _, ids, expect = case
    assert list(flagged["id"]) == ids, "one output row per catalog row, in catalog order"
    seen = set()
    for object_id, status in zip(flagged["id"], flagged["status"]):
        if object_id in seen:
            check(status, "duplicate catalog id", object_id)
            continue
        seen.add(object_id)
        check(status, expect[object_id][1], object_id)
    assert "orphan" not in set(flagged["id"])


@pytest.mark.slow
def test_flag_outputs_are_finite_exactly_where_scored(flagged):
    ok = np.asarray(flagged["status"]) == "ok"
    assert ok.sum() >= 12
    for name in ("energy", "energy_percentile", "class_probability", "period"):
        values = np.asarray(flagged[name], float)
        assert np.all(np.isfinite(values[ok])), name
    assert np.all(np.isnan(np.asarray(flagged["energy"], float)[~ok]))
    assert not np.any(np.asarray(flagged["anomaly_80"])[~ok])


@pytest.mark.slow
def test_flag_period_fallbacks_and_novel_labels(flagged, tiny_run_dir):
    row = {object_id: k for k, object_id in reversed(list(enumerate(flagged["id"])))}
    for object_id in ("period0", "periodneg", "periodlong", "periodtiny"):
        assert flagged["period_source"][row[object_id]] == "lomb-scargle", object_id
    assert flagged["period"][row["periodlong"]] < 600
    assert flagged["period_source"][row["good1"]] == "catalog"
    novel = row["novel_label"]
    assert flagged["status"][novel] == "ok" and flagged["class"][novel] == "NOT_A_CLASS"
    assert flagged["predicted_class"][novel] in flagged.meta["class_names"]
