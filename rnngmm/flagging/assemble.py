"""The flag output from the shard files, streamed (rank 0, after every rank finished).

The shards are read back in catalog order and each becomes one block of the
output table (:func:`rnngmm.flagging.output.build_table`), appended by a
:class:`rnngmm.flagging.output.TableWriter`: rank 0 holds one shard's rows
at a time, whatever the size of the catalog. A first pass over the shards
counts the scored rows (the header's ``n_ok``) and, for FITS and HDF5, the
widths of the text columns; the second writes. Every input row is in exactly one
shard, and the writer checks that every row was written.
"""

from dataclasses import dataclass

import numpy as np

from rnngmm.flagging.output import TableWriter, build_table, column_widths, output_format
from rnngmm.flagging.results import RowResults, read_shard
from rnngmm.flagging import shards as sh


@dataclass
class RowStatus:
    """Which rows were scored (what the output's metadata needs of the results)."""

    ok: np.ndarray

    def __len__(self):
        return len(self.ok)


def read_results(shard, directory, n_classes):
    """The :class:`RowResults` of ``shard`` in ``directory``.

    Raises
    ------
    RuntimeError
        If the shard's file is missing or damaged.
    """
    results = read_shard(sh.shard_path(directory, shard), shard=shard.index,
                         start=shard.start, stop=shard.stop, n_classes=n_classes)
    if results is None:
        raise RuntimeError(f"shard {shard.index} (rows {shard.start}:{shard.stop}) "
                           f"is missing or damaged in {directory!r}")
    return results


def row_status(plan, directory, n_classes):
    """:class:`RowStatus` of every row of the catalog (reads each shard)."""
    ok = [read_results(shard, directory, n_classes).ok for shard in plan]
    return RowStatus(np.concatenate(ok) if ok else np.zeros(0, bool))


def output_blocks(job, plan, directory, meta):
    """One output table per shard, in catalog order (one empty table when
    the catalog has no rows)."""
    n_classes = job.scorer.n_classes
    ids = np.asarray(job.source.ids)
    columns = {name: np.asarray(values) for name, values in job.source.columns.items()}

    def table(start, stop, results):
        return build_table(id_name=job.source.id_name, ids=ids[start:stop],
                           columns={k: v[start:stop] for k, v in columns.items()},
                           results=results, class_names=job.class_names,
                           novelty=job.novelty, percentiles=job.percentiles,
                           with_code=job.with_code, meta=meta,
                           adjustment=job.adjustment)
    if not plan:
        yield table(0, 0, RowResults.empty(0, n_classes, getattr(job, "bands", None)))
    for shard in plan:
        yield table(shard.start, shard.stop, read_results(shard, directory, n_classes))


def write_output(job, plan, directory, meta, n_rows):
    """Write the output file of ``job`` from its shards, block by block.

    ``job.summary`` (if set) is given every block; with ``job.keep_table``
    the blocks are also kept and returned stacked (tests and small catalogs).

    Returns
    -------
    astropy.table.Table or None
    """
    widths = None
    fmt = output_format(job.out)
    if fmt in ("fits", "hdf5"):  # fixed-width text columns: widths first
        widths = {}
        for block in output_blocks(job, plan, directory, meta):
            for name, width in column_widths(block, fmt).items():
                widths[name] = max(widths.get(name, 1), width)
    kept = []
    with TableWriter(job.out, n_rows, widths=widths) as writer:
        for block in output_blocks(job, plan, directory, meta):
            writer.write(block)
            if job.summary is not None:
                job.summary.add(block)
            if job.keep_table:
                kept.append(block)
    if not job.keep_table:
        return None
    from astropy.table import vstack
    table = vstack(kept, metadata_conflicts="silent") if len(kept) > 1 else kept[0]
    table.meta = kept[0].meta
    return table
