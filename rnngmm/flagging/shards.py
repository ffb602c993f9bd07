"""Shard plan, shard files and the manifest that makes ``--resume`` safe.

The catalog's rows are cut into consecutive shards of ``shard_objects`` rows.
The cut depends only on the number of rows and ``shard_objects``, never on the
number of ranks, and every shard is processed the same way by whichever rank
gets it; this is what makes a 1-rank and an N-rank run (or a resumed run)
produce identical results.

Completed shards live next to the output, in ``<out>.parts/``::

    manifest.json          what the shards were made from (see :func:`manifest_for`)
    shard-000000.h5 ...    one per completed shard, written atomically

``--resume`` reuses a shard only if the manifest matches the new job exactly;
a mismatch is an error rather than a silently mixed output.
"""

import contextlib
import glob
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from rnngmm.errors import InputError
from rnngmm.io.atomic import atomic_path
from rnngmm.flagging.results import read_shard

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Shard:
    """Catalog rows ``start:stop`` (shard number ``index``)."""

    index: int
    start: int
    stop: int

    @property
    def rows(self):
        """The catalog row numbers of the shard."""
        return np.arange(self.start, self.stop)

    def __len__(self):
        return self.stop - self.start


def plan_shards(n_rows, shard_objects):
    """Consecutive shards of at most ``shard_objects`` rows covering ``n_rows``.

    Returns
    -------
    list of Shard
    """
    if shard_objects < 1:
        raise ValueError(f"shard_objects must be >= 1, got {shard_objects}")
    return [Shard(i, start, min(start + shard_objects, n_rows))
            for i, start in enumerate(range(0, n_rows, shard_objects))]


def shards_of_rank(shards, rank, size):
    """Round-robin share of ``shards`` for ``rank`` of ``size`` ranks."""
    return list(shards[rank::size])


def parts_dir(out_path):
    """Directory of the completed shards of output ``out_path``."""
    return os.fspath(out_path) + ".parts"


def shard_path(directory, shard):
    """File of ``shard`` inside ``directory``."""
    return os.path.join(directory, f"shard-{shard.index:06d}.h5")


def fingerprint(values):
    """Short SHA-256 of a sequence of values (their ``str``, in order)."""
    digest = hashlib.sha256()
    for value in values:
        digest.update(str(value).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def manifest_for(*, n_rows, shard_objects, ids_fingerprint, run_id, class_names,
                 chunking, inputs):
    """The facts a shard's content depends on, as a JSON-able dict.

    Two jobs with equal manifests produce identical shards, so completed
    shards of one can stand in for the other's.
    """
    return {"format": "rnngmm-flag-parts", "format_version": 1,
            "n_rows": int(n_rows), "shard_objects": int(shard_objects),
            "ids_sha256": ids_fingerprint, "run_id": str(run_id),
            "class_names": [str(c) for c in class_names],
            "chunking": {k: chunking[k] for k in sorted(chunking)},
            "inputs": inputs}


def _normalised(manifest):
    return json.loads(json.dumps(manifest, sort_keys=True))


def prepare_parts(directory, manifest, *, resume):
    """Create or check ``directory`` for a job (call on ONE rank only).

    Without ``resume`` any earlier shards are deleted and the manifest
    rewritten. With ``resume`` an existing manifest must equal ``manifest``.

    Raises
    ------
    InputError
        On ``resume`` when the earlier shards were made from other inputs.
    """
    manifest_path = os.path.join(directory, MANIFEST)
    if resume and os.path.exists(manifest_path):
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                previous = json.load(handle)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot resume: {manifest_path!r} is unreadable ({exc}); "
                             "run again without --resume") from None
        if _normalised(previous) != _normalised(manifest):
            changed = sorted(k for k in set(previous) | set(manifest)
                             if _normalised(previous).get(k) != _normalised(manifest).get(k))
            raise InputError(f"cannot resume: the shards in {directory!r} were made "
                             f"with different {', '.join(changed)}; run again without --resume")
        return
    if os.path.isdir(directory):
        remove_parts(directory)
    os.makedirs(directory, exist_ok=True)
    with atomic_path(manifest_path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)


def completed_shards(directory, shards, n_classes):
    """Shards of ``shards`` whose file in ``directory`` is complete and valid."""
    done = []
    for shard in shards:
        path = shard_path(directory, shard)
        if os.path.exists(path) and read_shard(path, shard=shard.index, start=shard.start,
                                               stop=shard.stop, n_classes=n_classes) is not None:
            done.append(shard)
    return done


def count_shard_files(directory):
    """Number of shard files present (cheap; used for progress only)."""
    return len(glob.glob(os.path.join(directory, "shard-*.h5")))


def remove_parts(directory):
    """Delete the shard files, manifest, leftover temporaries and the directory."""
    patterns = ("shard-*.h5", ".shard-*.tmp", MANIFEST, f".{MANIFEST}.*.tmp")
    for pattern in patterns:
        for path in glob.glob(os.path.join(directory, pattern)):
            with contextlib.suppress(OSError):
                os.remove(path)
    with contextlib.suppress(OSError):
        os.rmdir(directory)
