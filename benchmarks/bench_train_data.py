"""Training on a real dataset: peak memory per rank and chunks/s of the first steps.

Loads a prepared dataset exactly as ``rnngmm train`` does
(:func:`rnngmm.training.data.load_training_data`: split, read and chunk the
objects), builds the model and the first epoch's batches, and times
``--steps`` training steps through ``model.fit`` on them (after ``--warmup``
untimed steps). Prints one JSON line on rank 0: chunks held by each rank,
seconds to load, chunks/s per rank of the timed steps, and every rank's peak
resident memory (``ru_maxrss``) at the end. Run as one process or under
``mpirun -np N`` (Horovod gradient averaging included)::

    python benchmarks/bench_train_data.py --data crts160k.h5 --threads 2
    mpirun --allow-run-as-root --oversubscribe -np 2 \\
        python benchmarks/bench_train_data.py --data crts160k.h5 --threads 1
"""

import json
import resource
import time

from bench_train import start_ranks, training_model, training_parser  # benchmarks/ on sys.path


def main():
    parser = training_parser(__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared dataset (.h5)")
    parser.add_argument("--n_min", type=int, default=100)
    args = parser.parse_args()
    dist, collectives = start_ranks(args)
    import numpy as np

    from rnngmm.io.dataset import Dataset
    from rnngmm.training.data import epoch_batches, load_training_data, train_dataset
    started = time.perf_counter()
    with Dataset(args.data) as dataset:
        data = load_training_data(dataset, collectives, n_min=args.n_min, n_max=args.n_max,
                                  validation_fraction=0.2, seed=0)
    load_seconds = time.perf_counter() - started
    model, _ = training_model(args, collectives, len(data.class_names))
    steps = args.warmup + args.steps
    if hasattr(data, "train_counts"):  # each rank holds its own chunks
        batches = epoch_batches(data.train_counts, args.batch_size, seed=0, epoch=0,
                                rank=dist.rank)
    else:  # before issue 16: every rank holds every chunk
        batches = epoch_batches(len(data.train), args.batch_size, seed=0, epoch=0,
                                rank=dist.rank, size=dist.size)
    batches = batches[:steps]
    model.fit(train_dataset(data.train, batches[:args.warmup]), epochs=1, verbose=0)
    collectives.allreduce_sum([0.0])  # start together
    start = time.perf_counter()
    model.fit(train_dataset(data.train, batches[args.warmup:]), epochs=1, verbose=0)
    collectives.allreduce_sum([0.0])
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    peaks = collectives.allgather(np.array([peak]))
    held = collectives.allgather(np.array([len(data.train) + len(data.validation)]))
    if dist.is_root:
        timed = len(batches) - args.warmup
        print(json.dumps({
            "data": args.data, "ranks": dist.size, "threads_per_rank": args.threads,
            "config": args.config, "batch_per_rank": args.batch_size, "steps": timed,
            "chunks_held_per_rank": [int(h) for h in held],
            "load_seconds": round(load_seconds, 1), "seconds": round(elapsed, 2),
            "chunks_per_s_per_rank": round(timed * args.batch_size / elapsed, 1),
            "peak_rss_mib_per_rank": [round(float(p), 1) for p in peaks]}))


if __name__ == "__main__":
    main()
