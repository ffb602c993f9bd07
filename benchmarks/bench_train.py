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


def training_parser(description):
    """The flags shared by the training benchmarks (model, batch, steps, threads)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default="fiducial")
    parser.add_argument("--n_max", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=128, help="per rank")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (tracing)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per rank")
    return parser


def start_ranks(args):
    """TensorFlow threads and horovod: ``(dist, collectives)``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from rnngmm.dist import init_horovod
    from rnngmm.training.distributed import Collectives
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    dist = init_horovod()
    return dist, Collectives(dist)


def training_model(args, collectives, num_classes):
    """The compiled model of ``--config``, prepared (broadcast) for training."""
    import keras

    from rnngmm.models.configs import get_config
    from rnngmm.models.registry import build_model
    from rnngmm.training.loop import TrainOptions, prepare_model
    config = get_config(args.config, n_max=args.n_max, num_classes=num_classes)
    model = build_model("rnngmm", **config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    prepare_model(model, collectives, TrainOptions(stages=[("joint", 1)]))
    return model, config


def main():
    args = training_parser(__doc__.splitlines()[0]).parse_args()
    dist, collectives = start_ranks(args)
    import tensorflow as tf
    model, config = training_model(args, collectives, 8)

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
