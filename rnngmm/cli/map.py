"""``rnngmm map``: a 2-D map (t-SNE) of a catalog's latent codes, as PNG and PDF."""

import logging

from rnngmm.cli.common import add_logging_flags

log = logging.getLogger(__name__)


def add_parser(subparsers):
    """Register ``map`` and its flags."""
    p = subparsers.add_parser(
        "map", help="2-D map (t-SNE) of a catalog's latent codes, by class and anomaly",
        description="Project the latent codes of a flag table's scored objects to 2-D "
                    "(scikit-learn t-SNE on codes standardised per component, seeded) and "
                    "draw them coloured by predicted class, anomalies marked as open "
                    "black diamonds. Writes <stem>.png and <stem>.pdf. Under mpirun only "
                    "rank 0 works. A table flagged with several bands (--band g r) maps "
                    "each star's code: the mean over all its bands' chunks.")
    p.add_argument("--table", required=True,
                   help="flag table with codes, from 'rnngmm embed' or "
                        "'rnngmm flag --with_code'")
    p.add_argument("--output", required=True,
                   help="output figure, e.g. map.png: map.png and map.pdf are written "
                        "(same stem)")
    p.add_argument("--method", default="tsne", choices=("tsne", "pca"),
                   help="projection (default: %(default)s; pca is fast and linear)")
    p.add_argument("--percentile", type=float, default=95.0,
                   help="mark objects of the column anomaly_<percentile> (default: 95)")
    p.add_argument("--max_objects", type=int, default=10000,
                   help="map a seeded random subsample of this many objects when the "
                        "table has more (t-SNE time grows with it; default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the subsample and of t-SNE (default: %(default)s)")
    p.add_argument("--perplexity", type=float, default=30.0,
                   help="t-SNE perplexity, lowered for small catalogs "
                        "(default: %(default)s)")
    p.add_argument("--coordinates", default=None,
                   help="also write the map coordinates (id, x, y, predicted_class, "
                        "anomalous) to this table (.ecsv, .fits, .csv, .h5, .parquet)")
    p.add_argument("--id_col", default=None,
                   help="id column of the table (default: its first column)")
    add_logging_flags(p)
    p.set_defaults(run=run_command)
    return p


def run_command(args):
    """Entry point of ``rnngmm map`` (rank 0 does the work under mpirun)."""
    import os

    from rnngmm import latent
    from rnngmm.dist import init_mpi
    from rnngmm.errors import InputError
    from rnngmm.flagging.output import output_format, write_table
    from rnngmm.flagging.table import read_table, table_meta
    from rnngmm.object_table import anomaly_column
    if args.max_objects < 1:
        raise InputError(f"--max_objects must be at least 1, got {args.max_objects}")
    if not 0 < args.percentile < 100:
        raise InputError(f"--percentile must lie strictly between 0 and 100, "
                         f"got {args.percentile:g}")
    if args.perplexity <= 0:
        raise InputError(f"--perplexity must be positive, got {args.perplexity:g}")
    if args.coordinates is not None:
        output_format(args.coordinates)
    stem = latent.map_stem(args.output)
    out_dir = os.path.dirname(os.path.abspath(stem))
    if not os.path.isdir(out_dir):
        raise InputError(f"output directory {out_dir!r} does not exist")
    if not init_mpi().is_root:
        return 0
    table = read_table(args.table)
    result = latent.catalog_map(table, method=args.method, percentile=args.percentile,
                                max_objects=args.max_objects, seed=args.seed,
                                perplexity=args.perplexity, id_col=args.id_col)
    name = {"tsne": "t-SNE", "pca": "PCA"}[args.method]
    run = table_meta(table, "run_id")
    shown = (f"{len(result.ids)} objects" if len(result.ids) == result.n_catalog
             else f"{len(result.ids)} of {result.n_catalog} objects")
    title = f"{name} of latent codes: {shown}" + (f", run {run}" if run else "")
    paths = latent.plot_map(result.coords, result.classes, result.anomalous, stem,
                            class_order=table_meta(table, "class_names"),
                            anomaly_label=anomaly_column(args.percentile), title=title)
    if args.coordinates is not None:
        coords = result.to_table()
        coords.meta.update({"format": "rnngmm-map", "method": args.method,
                            "seed": args.seed, "table": os.path.abspath(args.table)})
        write_table(coords, args.coordinates)
        paths.append(args.coordinates)
    log.info(f"rnngmm map: {shown}, {int(result.anomalous.sum())} marked "
             f"{anomaly_column(args.percentile)}; wrote {', '.join(paths)}")
    return 0
