"""Training throughput (chunks/s, forward + backward + update) of the RNN-GMM.

Reference configuration by default: GRU 96 x 2, embedding 16, 200 steps,
joint loss. Run as one process, or under ``mpirun -np N`` (Horovod gradient
averaging included); the figure printed is for the whole job.

    python benchmarks/bench_train.py --threads 2
    mpirun --allow-run-as-root --oversubscribe -np 2 python benchmarks/bench_train.py --threads 1
"""

import argparse
import json
import os
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="fiducial")
    parser.add_argument("--n_max", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=128, help="per rank")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (tracing)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per rank")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import keras
    import tensorflow as tf

    from rnngmm.configs import get_config
    from rnngmm.dist import init_horovod
    from rnngmm.models.registry import build_model
    from rnngmm.training.distributed import Collectives
    from rnngmm.training.loop import TrainOptions, prepare_model

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    dist = init_horovod()
    collectives = Collectives(dist)
    config = get_config(args.config, n_max=args.n_max, num_classes=8)
    model = build_model("rnngmm", **config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    prepare_model(model, collectives, TrainOptions(stages=[("joint", 1)]))

    rng = np.random.default_rng(dist.rank)
    b, t = args.batch_size, args.n_max
    x = np.stack([np.abs(rng.normal(1, 0.3, (b, t))), rng.normal(size=(b, t))], -1)
    inputs = {"x": x.astype("float32"), "weights": np.ones((b, t), "float32"),
              "supports": rng.normal(size=(b, 3)).astype("float32")}
    labels = rng.integers(0, 8, b).astype("int32")
    batch = tf.data.Dataset.from_tensors((inputs, labels))
    model.fit(batch.repeat(args.warmup), epochs=1, verbose=0)
    collectives.allreduce_sum([0.0])  # start together
    start = time.perf_counter()
    model.fit(batch.repeat(args.steps), epochs=1, verbose=0)
    collectives.allreduce_sum([0.0])
    elapsed = time.perf_counter() - start
    if dist.is_root:
        chunks = args.steps * b * dist.size
        print(json.dumps({"ranks": dist.size, "threads_per_rank": args.threads,
                          "config": args.config, "size": config["size"],
                          "num_layers": config["num_layers"], "embedding": config["embedding"],
                          "n_max": t, "batch_per_rank": b, "steps": args.steps,
                          "seconds": round(elapsed, 2),
                          "chunks_per_s": round(chunks / elapsed, 1)}))


if __name__ == "__main__":
    main()
