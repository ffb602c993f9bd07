"""Small catalogs with good and garbage light curves, for the flagging tests.

The ``new_catalog`` fixture (the simulated sample with bad rows mixed in,
``EXTRA_ROWS``) lives in ``tests/conftest.py``; ``flag_args`` builds the
``rnngmm flag`` arguments for it.
"""

import os

import numpy as np

#: Expected status (prefix) of each garbage object written by ``write_catalog``.
GARBAGE = {
    "missing": "light-curve file not found",
    "empty": "empty file",
    "binary": "not a text file",
    "fewpoints": "too few points",
    "allnan": "no usable points",
    "textcol": "non-numeric",
    "../escape": "unsafe object id",
}


def _sine_curve(rng, n_points, period, amplitude=0.4, mean=15.0):
    time = 53500.0 + np.sort(rng.uniform(0, 900, n_points))
    mag = mean + amplitude * np.sin(2 * np.pi * time / period) + rng.normal(0, 0.03, n_points)
    err = np.full(n_points, 0.03)
    return time, mag, err


def _write_crts(path, time, mag, err):
    with open(path, "w", encoding="utf-8") as handle:
        for t, m, e in zip(time, mag, err):
            handle.write(f"{t:.6f} {m:.4f} {e:.4f}\n")


def write_catalog(directory, n_good=24, seed=0, duplicate=True, garbage=True):
    """A CRTS-style catalog + light-curve directory under ``directory``.

    Good objects have sinusoidal light curves (some over several chunks, some
    without a catalog period, so Lomb-Scargle runs). Garbage rows follow
    ``GARBAGE``; one good id is repeated at the end when ``duplicate``.

    Returns
    -------
    catalog_path, lightcurve_dir, ids : str, str, list of str
        ``ids`` in catalog-row order.
    """
    rng = np.random.default_rng(seed)
    lc_dir = os.path.join(directory, "lightcurves")
    os.makedirs(lc_dir, exist_ok=True)
    rows = []
    for k in range(n_good):
        object_id = f"{1000 + k}"
        period = float(rng.uniform(0.3, 5.0))
        n_points = int(rng.integers(30, 130))
        time, mag, err = _sine_curve(rng, n_points, period, mean=14 + k % 3)
        _write_crts(os.path.join(lc_dir, f"{object_id}.dat"), time, mag, err)
        catalog_period = "" if k % 5 == 2 else f"{period:.6f}"
        rows.append((object_id, catalog_period, f"{14 + k % 3:.2f}", ["A", "B"][k % 2]))
    if garbage:
        _write_crts(os.path.join(lc_dir, "fewpoints.dat"), *_sine_curve(rng, 4, 1.0))
        open(os.path.join(lc_dir, "empty.dat"), "w").close()
        with open(os.path.join(lc_dir, "binary.dat"), "wb") as handle:
            handle.write(bytes(range(256)))
        time, mag, err = _sine_curve(rng, 40, 1.0)
        _write_crts(os.path.join(lc_dir, "allnan.dat"), time, np.full(40, np.nan), err)
        with open(os.path.join(lc_dir, "textcol.dat"), "w", encoding="utf-8") as handle:
            handle.write("53500.1 15.2 0.03\n53501.2 abc 0.03\n")
        for object_id in GARBAGE:
            rows.insert(len(rows) // 2 if object_id == "missing" else len(rows),
                        (object_id, "1.0", "15.00", "A"))
    if duplicate:
        rows.append(rows[0][:1] + ("0.5", "99.00", "C"))
    catalog = os.path.join(directory, "catalog.csv")
    with open(catalog, "w", encoding="utf-8") as handle:
        handle.write("id,period,vmag,class\n")
        for row in rows:
            handle.write(",".join(row) + "\n")
    return catalog, lc_dir, [r[0] for r in rows]


class FakeScorer:
    """Deterministic stand-in for the model: probabilities and energies from
    the chunks' supports, so tests of the plumbing need no TensorFlow model."""

    n_classes = 3

    def __init__(self):
        self.batches = []

    def score(self, chunks):
        self.batches.append(len(chunks))
        s = chunks.supports.astype(np.float64)
        logits = np.stack([s[:, 0] / 10, s[:, 1] * 5, s[:, 2]], axis=1)
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        energy = s[:, 1] * 10 + np.abs(chunks.x[:, :, 1]).sum(axis=1) / 100
        from rnngmm.inference import ChunkScores
        return ChunkScores(gamma=prob, z=s.astype(np.float32), code=s[:, :2].astype(np.float32),
                           energy=energy)


class PooledScore:
    """The novelty-score side of a stand-in mixture that flags on the raw
    energy (``novelty_score="energy"``): its ``thresholds_for`` and
    ``energy_percentile`` decide."""

    novelty_score = "energy"
    conditions_on_sampling = False

    def novelty_scores(self, energy, predicted_class, max_probability=None, n_points=None,
                       baseline=None):
        return np.asarray(energy, np.float64)

    def score_thresholds(self, percentiles):
        return self.thresholds_for(percentiles)

    def score_percentile(self, scores):
        return self.energy_percentile(scores)

    def expected_flag_rates(self, percentiles):
        return {float(p): 1.0 - float(p) / 100.0 for p in percentiles}


class FakeNovelty(PooledScore):
    """Stand-in mixture: thresholds at energy p/20 and a linear percentile scale."""

    def thresholds_for(self, percentiles):
        return {float(p): float(p) / 20 for p in percentiles}

    def energy_percentile(self, energy):
        return np.clip(np.asarray(energy) * 20, 0, 100)


#: Rows added to the simulated catalog: (id, expected status prefix).
EXTRA_ROWS = (("no_such_star", "light-curve file not found"),
              ("../../etc/passwd", "unsafe object id"))


def flag_args(run_dir, catalog, out, *extra):
    path, lc_dir, _ = catalog
    return ("flag", "--run_dir", run_dir, "--catalog", path, "--lightcurves", lc_dir,
            "--format", "asassn", "--filter", "V", "--label_col", "class",
            "--pass_through", "mean_mag", "--output", out, "--batch_objects", "8",
            "--shard_objects", "10", "--progress_interval", "0", *extra)


class MemorySource:
    """A flag source holding its records in memory (what ``CatalogSource``
    yields, ``ObjectRecord``, ``BandedRecord`` or a reason per row).

    ``bands``: the band names of a several-band job (``reader_options["bands"]``).
    """

    id_name = "id"

    def __init__(self, ids, records, bands=None, columns=None):
        from rnngmm.flagging.shards import fingerprint
        self._fingerprint = fingerprint
        self.ids = np.array(list(ids), dtype=object)
        self.records = list(records)
        self.n_rows = len(self.records)
        self.columns = dict(columns or {})
        self.labels = None
        self.reader_options = {"bands": tuple(bands)} if bands else {}
        self.inputs = {"catalog": "memory",
                       **({"reader_options": {"bands": list(bands)}} if bands else {})}

    def ids_fingerprint(self):
        return self._fingerprint(list(self.ids))

    def iter_records(self, rows):
        for row in rows:
            yield int(row), self.records[int(row)]

    def close(self):
        pass
