"""The latent space as a tool: codes of a catalog, their neighbours and a 2-D map.

Pure functions behind ``rnngmm similar``, ``rnngmm map`` and the neighbours
of ``rnngmm report`` (and usable from Python). They read the flag table that
``rnngmm flag --with_code`` (or ``rnngmm embed``) writes
(:func:`rnngmm.flagging.table.read_table`): one row per catalog object with
the mean latent code in the columns ``code_0 .. code_{E-1}``, NaN where
``status`` is not ``"ok"``.

Several bands: a table flagged with ``--band g r`` has one row per star, and
its code is the STAR's (the mean over all its bands' chunks), never one band's.

Distances
---------
Neighbours are Euclidean in *standardised* code space: every code component
is shifted by its mean and divided by its standard deviation over the
table's scored objects (:func:`fit_standardiser`), so no component dominates
the distance because of its scale. Light curves queried from outside the
table are standardised with the table's statistics. The search
(:func:`catalog_search`, the one every command uses) is scikit-learn's exact
:class:`~sklearn.neighbors.NearestNeighbors`.

Maps
----
:func:`map_coordinates` projects the standardised codes to 2-D with
scikit-learn's t-SNE (seeded, so a seed gives the same map) or a PCA;
:func:`subsample` draws a deterministic subset of a large catalog first, and
:func:`plot_map` colours the points by predicted class and marks anomalies.
"""

import logging
import os
import re
from dataclasses import dataclass

import numpy as np

from rnngmm.errors import InputError
from rnngmm.flagging.table import (anomaly_columns, float_values, table_id_column,
                                   table_meta, text_values)
from rnngmm.object_table import OK, anomaly_column

log = logging.getLogger(__name__)

#: Name of the code columns written by ``rnngmm flag --with_code``.
CODE_COLUMN = re.compile(r"^code_(\d+)$")
#: Projections :func:`map_coordinates` knows.
MAP_METHODS = ("tsne", "pca")
#: t-SNE of fewer objects than this runs on one thread (see :func:`map_coordinates`).
SINGLE_THREAD_BELOW = 2000
#: Columns of a neighbour table, before the neighbour's anomaly flags.
NEIGHBOUR_COLUMNS = ("query_id", "rank", "neighbour_id", "distance", "predicted_class",
                     "energy", "energy_percentile")
#: Hint given whenever a table lacks codes.
NO_CODES_HINT = ("run 'rnngmm flag --with_code' (or 'rnngmm embed') to write a table "
                 "with codes")


@dataclass
class CatalogCodes:
    """The scored objects of a flag table and their codes.

    Attributes
    ----------
    ids : ndarray of str, shape (n,)
        Ids of the objects with a code (status ``"ok"`` and finite codes).
    codes : ndarray of float64, shape (n, E)
    rows : ndarray of int, shape (n,)
        Row of each object in the table.
    id_col : str
        Name of the id column.
    code_names : list of str
        ``code_0 .. code_{E-1}``.
    """

    ids: np.ndarray
    codes: np.ndarray
    rows: np.ndarray
    id_col: str
    code_names: list

    def __len__(self):
        return len(self.ids)


def code_column_names(table):
    """``code_0 .. code_{E-1}`` of ``table``, in component order.

    Raises
    ------
    InputError
        When the table has no code columns, or they are not numbered 0..E-1.
    """
    numbered = sorted((int(m.group(1)), name) for name in table.colnames
                      if (m := CODE_COLUMN.match(name)))
    if not numbered:
        raise InputError(f"the table has no code columns (code_0, code_1, ...); "
                         f"{NO_CODES_HINT}")
    if [k for k, _ in numbered] != list(range(len(numbered))):
        raise InputError(f"code columns {[n for _, n in numbered]} are not numbered "
                         "0 .. E-1")
    return [name for _, name in numbered]


def catalog_codes(table, id_col=None):
    """The codes of a flag table's scored objects.

    Parameters
    ----------
    table : astropy.table.Table
        A flag table with code columns.
    id_col : str, optional
        Id column (default: the table's first column, as ``rnngmm flag`` writes it).

    Returns
    -------
    CatalogCodes
        Objects whose ``status`` is ``"ok"`` (every row when the table has no
        ``status`` column) and whose codes are all finite. A repeated id keeps
        its first scored row.

    Raises
    ------
    InputError
        Without code columns, without the id column, or without any scored object.
    """
    names = code_column_names(table)
    id_col = table_id_column(table, id_col)
    codes = np.column_stack([float_values(table, name) for name in names])
    usable = np.isfinite(codes).all(axis=1)
    if "status" in table.colnames:
        usable &= text_values(table, "status") == OK
    ids = text_values(table, id_col)
    rows = np.flatnonzero(usable)
    _, first = np.unique(ids[rows], return_index=True)
    rows = rows[np.sort(first)]
    if not len(rows):
        raise InputError("no object of the table has a code (none was scored)")
    return CatalogCodes(ids=ids[rows], codes=codes[rows], rows=rows, id_col=id_col,
                        code_names=names)


def fit_standardiser(codes):
    """Mean and scale of each code component (scale 1 where a component is constant).

    Parameters
    ----------
    codes : array_like, shape (n, E)

    Returns
    -------
    mean, scale : ndarray, shape (E,)
    """
    codes = np.asarray(codes, np.float64)
    mean = codes.mean(axis=0)
    scale = codes.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def standardise(codes, mean, scale):
    """``(codes - mean) / scale`` (see :func:`fit_standardiser`)."""
    return (np.asarray(codes, np.float64) - mean) / scale


def nearest_neighbours(reference, queries, k, self_rows=None):
    """The ``k`` nearest reference points of each query (Euclidean, exact).

    Parameters
    ----------
    reference : array_like, shape (n, E)
        Already standardised codes of the catalog.
    queries : array_like, shape (q, E)
        Standardised codes of the queries.
    k : int
        Neighbours per query, ``1 <= k <= n``.
    self_rows : sequence of int or None, optional
        For each query, its own row in ``reference`` (or -1 / None when it is
        not in the catalog): that row is ranked first, even when other objects
        lie at distance 0 too.

    Returns
    -------
    distances : ndarray of float64, shape (q, k)
        Increasing along each row.
    indices : ndarray of int, shape (q, k)
        Rows of ``reference``.

    Raises
    ------
    InputError
        When ``k`` is not between 1 and the number of reference points.
    """
    from sklearn.neighbors import NearestNeighbors
    reference = np.asarray(reference, np.float64)
    queries = np.asarray(queries, np.float64).reshape(-1, reference.shape[1])
    n = len(reference)
    if not 1 <= int(k) <= n:
        raise InputError(f"--k must be between 1 and the {n} objects with codes in the "
                         f"table, got {k}")
    k = int(k)
    self_rows = [-1] * len(queries) if self_rows is None else [
        -1 if r is None else int(r) for r in self_rows]
    fetch = min(k + 1, n)  # one spare, so a query's own row can be moved up
    search = NearestNeighbors(n_neighbors=fetch, metric="euclidean", algorithm="auto")
    search.fit(reference)
    distances, indices = search.kneighbors(queries, n_neighbors=fetch)
    out_d = np.empty((len(queries), k))
    out_i = np.empty((len(queries), k), np.int64)
    for q, own in enumerate(self_rows):
        order = np.lexsort((indices[q], distances[q]))  # ties: by row, deterministic
        d, i = distances[q][order], indices[q][order]
        if own >= 0:
            keep = i != own
            d = np.concatenate([[0.0], d[keep]])
            i = np.concatenate([[own], i[keep]])
        out_d[q], out_i[q] = d[:k], i[:k]
    return out_d, out_i


def catalog_search(catalog, query_codes, k, self_rows=None):
    """The ``k`` nearest catalog objects of each query, in the catalog's standardised
    code space: :func:`nearest_neighbours` after :func:`standardise` with the
    catalog's :func:`fit_standardiser`.

    Parameters
    ----------
    catalog : CatalogCodes
    query_codes : array_like, shape (q, E)
        Raw (not standardised) codes of the queries.
    k : int
        Neighbours per query, ``1 <= k <= len(catalog)``.
    self_rows : sequence of int or None, optional
        Row of each query in ``catalog`` (-1 for outside queries): ranked first.

    Returns
    -------
    distances : ndarray of float64, shape (q, k)
    indices : ndarray of int, shape (q, k)
        Rows of ``catalog``.
    """
    mean, scale = fit_standardiser(catalog.codes)
    return nearest_neighbours(standardise(catalog.codes, mean, scale),
                              standardise(query_codes, mean, scale), k, self_rows)


def neighbour_table(table, catalog, query_ids, query_codes, k, self_rows=None):
    """One row per (query, neighbour): the answer of ``rnngmm similar``.

    Parameters
    ----------
    table : astropy.table.Table
        The flag table the catalog codes came from.
    catalog : CatalogCodes
        Its codes (:func:`catalog_codes`).
    query_ids : sequence of str
    query_codes : array_like, shape (q, E)
        Raw (not standardised) codes of the queries.
    k : int
    self_rows : sequence of int or None, optional
        Row of each query in ``catalog`` (-1 for outside queries); see
        :func:`nearest_neighbours`.

    Returns
    -------
    astropy.table.Table
        Columns :data:`NEIGHBOUR_COLUMNS` (those the flag table has) and its
        ``anomaly_<p>`` flags of the neighbour; ``rank`` counts from 1;
        ``distance`` is Euclidean in standardised code space.
    """
    from astropy.table import Table

    from rnngmm.object_table import describe_columns, text_column
    mean, scale = fit_standardiser(catalog.codes)
    distances, indices = catalog_search(catalog, query_codes, k, self_rows)
    q, k = distances.shape
    rows = catalog.rows[indices.ravel()]
    out = Table()
    out["query_id"] = text_column(np.repeat(np.asarray(query_ids, str), k))
    out["rank"] = np.tile(np.arange(1, k + 1), q)
    out["neighbour_id"] = text_column(catalog.ids[indices.ravel()])
    out["distance"] = distances.ravel()
    for name in ("predicted_class", "energy", "energy_percentile", *anomaly_columns(table)):
        if name in table.colnames:
            out[name] = np.asarray(table[name])[rows]
    describe_columns(out)
    out["query_id"].description = "object (catalog id or light-curve file) asked about"
    out["rank"].description = "1 = nearest"
    out["neighbour_id"].description = f"catalog id ({catalog.id_col}) of the neighbour"
    out["distance"].description = ("Euclidean distance between mean latent codes, each "
                                   "component standardised over the table's scored objects")
    out.meta.update({"format": "rnngmm-neighbours", "metric": "euclidean",
                     "standardisation": "per-component mean and std over the table's "
                                        "scored objects",
                     "code_mean": [float(v) for v in mean],
                     "code_std": [float(v) for v in scale],
                     "k": int(k), "n_catalog": int(len(catalog))})
    for key in ("run_id", "class_names", "percentiles"):
        value = table_meta(table, key)
        if value is not None:
            out.meta[key] = value
    return out


def query_rows(catalog, ids):
    """Row in ``catalog`` of each id given on the command line.

    Raises
    ------
    InputError
        Naming ids that are not in the table, or that are but were not scored.
    """
    position = {object_id: row for row, object_id in enumerate(catalog.ids)}
    missing = [i for i in ids if i not in position]
    if missing:
        raise InputError(f"{len(missing)} id(s) not among the table's objects with a code: "
                         f"{', '.join(map(repr, missing[:10]))}"
                         f"{' ...' if len(missing) > 10 else ''}")
    return [position[i] for i in ids]


def explain_missing_ids(table, catalog, ids):
    """Like :func:`query_rows`, but says *why* an id has no code (unknown, or
    not scored and its status)."""
    known = set(catalog.ids)
    problems = []
    if any(i not in known for i in ids):
        all_ids = text_values(table, catalog.id_col)
        status = text_values(table, "status") if "status" in table.colnames else None
        for object_id in ids:
            if object_id in known:
                continue
            hits = np.flatnonzero(all_ids == object_id)
            if not len(hits):
                problems.append(f"{object_id!r} is not in the table")
            elif status is not None and status[hits[0]] != OK:
                problems.append(f"{object_id!r} was not scored ({status[hits[0]]})")
            else:
                problems.append(f"{object_id!r} has no finite code")
    if problems:
        raise InputError("unknown or unusable id(s): " + "; ".join(problems[:10])
                         + (" ..." if len(problems) > 10 else ""))
    return query_rows(catalog, ids)


def subsample(n, max_objects, seed=0):
    """Deterministic subset of ``range(n)``: every index when ``n <= max_objects``,
    else ``max_objects`` indices drawn without replacement with ``seed``.

    Returns
    -------
    ndarray of int
        Sorted indices.
    """
    if max_objects is None or n <= max_objects:
        return np.arange(n)
    if max_objects < 1:
        raise InputError(f"--max_objects must be at least 1, got {max_objects}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_objects), replace=False))


def map_coordinates(codes, method="tsne", seed=0, perplexity=30.0, threads=None):
    """2-D coordinates of codes (standardised first, see :func:`fit_standardiser`).

    Parameters
    ----------
    codes : array_like, shape (n, E)
    method : {"tsne", "pca"}
        scikit-learn ``TSNE`` (PCA initialisation, ``random_state=seed``) or ``PCA``.
    seed : int
    perplexity : float
        t-SNE perplexity, lowered to ``(n - 1) / 3`` for small catalogs.
    threads : int or None
        OpenMP/BLAS threads of t-SNE; None: one below
        :data:`SINGLE_THREAD_BELOW` objects (threads only cost time there, and
        a lot on a busy machine), else every core.

    Returns
    -------
    ndarray of float64, shape (n, 2)
        The same for the same codes, method and seed.
    """
    codes = np.asarray(codes, np.float64)
    if method not in MAP_METHODS:
        raise InputError(f"unknown map method {method!r}; choose one of "
                         f"{', '.join(MAP_METHODS)}")
    n = len(codes)
    if n < 2:
        raise InputError(f"a map needs at least 2 objects with codes, got {n}")
    x = standardise(codes, *fit_standardiser(codes))
    if x.shape[1] < 2:  # a 1-D code: the map is the code against zero
        return np.column_stack([x[:, 0], np.zeros(n)])
    if method == "pca" or n < 5:
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float64)
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto")
    if threads is None and n < SINGLE_THREAD_BELOW:
        threads = 1
    with threadpool_limits(limits=threads):
        return np.asarray(tsne.fit_transform(x), np.float64)


def _class_colours(names):
    """Colour of each class: tab10, or tab20 for more than ten classes."""
    import matplotlib
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(k % cmap.N) for k, name in enumerate(names)}


def plot_map(coords, classes, anomalous, stem, *, class_order=None, anomaly_label="anomaly",
             title=None):
    """Scatter map of the catalog: colour = predicted class, anomalies marked.

    Parameters
    ----------
    coords : array_like, shape (n, 2)
    classes : array_like of str, shape (n,)
        Predicted class of each point.
    anomalous : array_like of bool, shape (n,)
        Points drawn again as black-edged open diamonds on top.
    stem : str
        Output path without extension: ``<stem>.png`` and ``<stem>.pdf`` are
        written (atomically).
    class_order : sequence of str, optional
        Legend order (default: sorted); classes not in it are appended.
    anomaly_label : str
        Legend text of the anomaly markers (e.g. ``"anomaly_95"``).
    title : str, optional

    Returns
    -------
    list of str
        The PNG and PDF paths.
    """
    from rnngmm.scoring.plots import plt, save_figure
    coords = np.asarray(coords, np.float64)
    classes = np.asarray(classes).astype(str)
    anomalous = np.asarray(anomalous, bool)
    order = [str(c) for c in (class_order or [])]
    order += sorted(set(classes) - set(order))
    colours = _class_colours(order)  # a class keeps its colour in every map of a run
    order = [c for c in order if c in set(classes)]
    fig, ax = plt.subplots(figsize=(8.0, 6.5), layout="constrained")
    size = float(np.clip(4000.0 / max(len(coords), 1), 4.0, 40.0))
    for name in order:
        mine = classes == name
        ax.scatter(coords[mine, 0], coords[mine, 1], s=size, color=colours[name],
                   alpha=0.8, linewidths=0, label=f"{name or '(none)'} ({int(mine.sum())})")
    if anomalous.any():
        ax.scatter(coords[anomalous, 0], coords[anomalous, 1], s=max(3 * size, 30.0),
                   facecolors="none", edgecolors="black", marker="D", linewidths=1.0,
                   label=f"{anomaly_label} ({int(anomalous.sum())})")
    ax.set_xlabel("map x")
    ax.set_ylabel("map y")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small",
              title="predicted class", frameon=False)
    return save_figure(fig, stem)


def anomaly_flags(table, percentile):
    """The ``anomaly_<percentile>`` column as booleans.

    Raises
    ------
    InputError
        Naming the percentiles the table has when it lacks this one.
    """
    name = anomaly_column(percentile)
    if name not in table.colnames:
        have = ", ".join(c[len("anomaly_"):] for c in anomaly_columns(table)) or "none"
        raise InputError(f"the table has no column {name!r} (anomaly percentiles in it: "
                         f"{have}); flag the catalog with --percentiles {percentile:g}")
    values = np.asarray(table[name])
    if values.dtype.kind in "US":
        return values == "True"
    return values.astype(bool)


def map_stem(output):
    """Output stem of a map: ``map.png``, ``map.pdf`` and ``map`` all give ``map``."""
    output = os.fspath(output)
    root, ext = os.path.splitext(output)
    return root if ext.lower() in (".png", ".pdf") else output


@dataclass
class CatalogMap:
    """A 2-D map of a catalog's codes (:func:`catalog_map`).

    Attributes
    ----------
    ids : ndarray of str, shape (m,)
        Objects on the map (a subsample when the catalog is larger).
    coords : ndarray of float64, shape (m, 2)
    classes : ndarray of str, shape (m,)
        Predicted class of each object.
    anomalous : ndarray of bool, shape (m,)
    n_catalog : int
        Objects with a code in the table.
    """

    ids: np.ndarray
    coords: np.ndarray
    classes: np.ndarray
    anomalous: np.ndarray
    n_catalog: int

    def to_table(self):
        """The coordinates as an astropy Table (``id, x, y, predicted_class, anomalous``)."""
        from astropy.table import Table
        return Table({"id": self.ids, "x": self.coords[:, 0], "y": self.coords[:, 1],
                      "predicted_class": self.classes, "anomalous": self.anomalous})


def catalog_map(table, *, method="tsne", percentile=95.0, max_objects=10000, seed=0,
                perplexity=30.0, id_col=None):
    """Map coordinates of a flag table's scored objects.

    Parameters
    ----------
    table : astropy.table.Table
        A flag table with code columns.
    method : {"tsne", "pca"}
    percentile : float
        Which ``anomaly_<p>`` column marks anomalies.
    max_objects : int or None
        Map a deterministic subsample (:func:`subsample` with ``seed``) of
        this many objects when the table has more.
    seed : int
        Seeds both the subsample and t-SNE.
    perplexity : float
    id_col : str, optional

    Returns
    -------
    CatalogMap
    """
    flags = anomaly_flags(table, percentile)
    catalog = catalog_codes(table, id_col)
    keep = subsample(len(catalog), max_objects, seed)
    if len(keep) < len(catalog):
        log.info(f"map: {len(keep)} of {len(catalog)} objects (subsample, seed {seed})")
    rows = catalog.rows[keep]
    classes = (text_values(table, "predicted_class")[rows]
               if "predicted_class" in table.colnames else np.full(len(rows), ""))
    coords = map_coordinates(catalog.codes[keep], method=method, seed=seed,
                             perplexity=perplexity)
    return CatalogMap(ids=catalog.ids[keep], coords=coords, classes=classes,
                      anomalous=flags[rows], n_catalog=len(catalog))
