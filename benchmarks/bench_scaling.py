"""Horovod weak scaling of training, 1 -> 2 ranks, one thread per rank.

Each rank trains the model through the package's own path
(``rnngmm.training.loop.prepare_model`` attaches
``rnngmm.training.distributed.Collectives.gradient_hook``, i.e. a
``horovod.tensorflow`` ``allreduce(op=Average)`` of every gradient inside
``RNNGMM.train_step``), with the same per-rank batch at every size. Per rank
it measures, in the same process:

- the float32 1024^3 matmul rate with its one thread, before and after;
- the step time with gradient averaging (the real training step);
- the step time with the hook set to identity (compute only: shows how much
  of any loss is contention for the machine rather than communication);
- the time of the gradient allreduce alone (all gradients, as in a step);
- the gradient size in bytes.

Weak-scaling efficiency = per-rank chunks/s at 2 ranks / chunks/s at 1 rank.
It then prints the ring-allreduce cost model for 8-64 GPUs from the measured
gradient size: a paper estimate with its stated assumptions, not a measurement.

Usage (the script launches mpirun itself for 1 and 2 ranks)::

    .venv/bin/python benchmarks/bench_scaling.py [--config fiducial] [--batch 64]

or one size by hand (prints that size's figures only)::

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 mpirun --allow-run-as-root \\
        --oversubscribe -np 2 .venv/bin/python benchmarks/bench_scaling.py --worker
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

#: Paper assumptions of the cost model (per-link bandwidth in bytes/s, latency in s).
INTERCONNECTS = {
    "NVLink (intra-node), 25 GB/s, 10 us": (25e9, 10e-6),
    "InfiniBand HDR-ish, 12.5 GB/s, 20 us": (12.5e9, 20e-6),
}


def ring_allreduce_seconds(nbytes, ranks, bandwidth, latency):
    """Ring allreduce time: 2(p-1)/p * bytes / bandwidth + 2(p-1) * latency."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) / ranks * nbytes / bandwidth + 2 * (ranks - 1) * latency


# -------------------------------------------------------------------- worker
def worker(args):
    common.set_threads(args.threads, args.threads)
    import keras
    import numpy as np
    import tensorflow as tf

    from rnngmm.models.configs import get_config
    from rnngmm.dist import init_horovod
    from rnngmm.models.registry import build_model
    from rnngmm.training.distributed import Collectives
    from rnngmm.training.loop import TrainOptions, prepare_model

    dist = init_horovod()
    collectives = Collectives(dist)
    before = common.matmul_gflops(1024, 1024, 1024, min_seconds=args.seconds)[0]

    config = get_config(args.config)
    model = build_model("rnngmm", **config)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=False)
    prepare_model(model, collectives, TrainOptions(stages=[("joint", 1)],
                                                   batch_size=args.batch))
    rng = np.random.default_rng(dist.rank)
    steps = int(config["n_max"])
    x = np.empty((args.batch, steps, 2), np.float32)
    x[..., 0] = rng.exponential(1.0, (args.batch, steps))
    x[..., 1] = rng.standard_normal((args.batch, steps))
    inputs = {"x": x, "weights": np.ones((args.batch, steps), np.float32),
              "supports": rng.standard_normal((args.batch, 3)).astype(np.float32)}
    labels = rng.integers(0, int(config["num_classes"]), args.batch).astype(np.int32)

    def timed_steps(n):
        collectives.allreduce_sum([0.0])  # line the ranks up
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            model.train_on_batch(inputs, labels)
            times.append(time.perf_counter() - t0)
        return times

    timed_steps(args.warmup)
    with_allreduce = timed_steps(args.steps)
    # Same step without averaging: compute (and machine contention) only.
    hook = model.gradient_hook
    model.gradient_hook = None
    timed_steps(1)
    compute_only = timed_steps(args.steps)
    model.gradient_hook = hook

    grads = [tf.zeros_like(v) for v in model.trainable_variables]
    nbytes = int(sum(int(np.prod(v.shape)) * v.dtype.size for v in grads))

    @tf.function
    def reduce_all(grads):
        return collectives.gradient_hook(list(grads))

    reduce_all(grads)
    collectives.allreduce_sum([0.0])
    reduce_times = []
    for _ in range(args.allreduce_reps):
        t0 = time.perf_counter()
        out = reduce_all(grads)
        out[-1].numpy()
        reduce_times.append(time.perf_counter() - t0)
    after = common.matmul_gflops(1024, 1024, 1024, min_seconds=args.seconds)[0]

    mine = {"rank": dist.rank, "step_s": float(np.median(with_allreduce)),
            "step_s_all": with_allreduce, "compute_only_step_s": float(np.median(compute_only)),
            "allreduce_s": float(np.median(reduce_times)),
            "allreduce_s_min": float(np.min(reduce_times)),
            "ceiling_before": before, "ceiling_after": after}
    gathered = collectives.allgather_object_list(
        [mine], lambda items: json.dumps(items).encode(), lambda b: json.loads(b.decode()))
    if dist.is_root:
        flops = 3 * common.model_flops(config)["total"]
        step = max(r["step_s"] for r in gathered)  # the slowest rank sets the pace
        record = {"ranks": dist.size, "backend": dist.backend, "config": args.config,
                  "batch_per_rank": args.batch, "threads_per_rank": args.threads,
                  "gradient_bytes": nbytes, "n_gradients": len(grads),
                  "step_s": step, "per_rank_chunks_per_s": args.batch / step,
                  "total_chunks_per_s": dist.size * args.batch / step,
                  "compute_only_step_s": max(r["compute_only_step_s"] for r in gathered),
                  "allreduce_s": max(r["allreduce_s"] for r in gathered),
                  "per_rank_gflops": args.batch * flops / step / 1e9,
                  "ceiling_per_rank": min(max(r["ceiling_before"], r["ceiling_after"])
                                          for r in gathered),
                  "ranks_detail": gathered, "machine": common.machine_line()}
        record["fraction_of_ceiling"] = record["per_rank_gflops"] / record["ceiling_per_rank"]
        common.emit_json(record)


# -------------------------------------------------------------------- parent
def launch(ranks, args):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit("mpirun not found (install openmpi-bin)")
    forwarded = ["--config", args.config, "--batch", str(args.batch), "--steps",
                 str(args.steps), "--warmup", str(args.warmup), "--threads",
                 str(args.threads), "--seconds", str(args.seconds),
                 "--allreduce_reps", str(args.allreduce_reps)]
    command = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", str(ranks),
               "-x", f"TF_NUM_INTRAOP_THREADS={args.threads}",
               "-x", f"TF_NUM_INTEROP_THREADS={args.threads}",
               "-x", f"OMP_NUM_THREADS={args.threads}", "-x", "TF_CPP_MIN_LOG_LEVEL=2",
               sys.executable, os.path.abspath(__file__), "--worker", *forwarded]
    print("$ " + " ".join(command), flush=True)
    proc = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise SystemExit(f"{ranks} ranks failed (exit {proc.returncode}):\n"
                     + "\n".join((proc.stderr + proc.stdout).splitlines()[-20:]))


def cost_model(nbytes, step_s):
    print(f"\nPAPER ESTIMATE (not a measurement): ring allreduce of {nbytes} gradient "
          f"bytes (float32), t = 2(p-1)/p * bytes/B + 2(p-1) * latency; one fused "
          f"allreduce per step (Horovod tensor fusion), no overlap with compute.")
    for name, (bandwidth, latency) in INTERCONNECTS.items():
        print(f"  {name}:")
        for p in (8, 16, 32, 64):
            t = ring_allreduce_seconds(nbytes, p, bandwidth, latency)
            print(f"    p={p:3d}: allreduce {1e3 * t:7.3f} ms; efficiency at the measured "
                  f"CPU step ({step_s:.2f} s) {step_s / (step_s + t):.4f}; a step of at least "
                  f"{1e3 * 9 * t:.1f} ms keeps efficiency >= 0.90")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="fiducial")
    parser.add_argument("--batch", type=int, default=64, help="chunks per step per rank")
    parser.add_argument("--steps", type=int, default=6, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="TF threads per rank")
    parser.add_argument("--seconds", type=float, default=1.5,
                        help="seconds per ceiling measurement")
    parser.add_argument("--allreduce_reps", type=int, default=30)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=int, default=1200)
    parser.add_argument("--json", default=None, help="append JSON lines here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    print(common.machine_line(), flush=True)
    results = {}
    for ranks in args.ranks:
        r = launch(ranks, args)
        results[ranks] = r
        print(f"{ranks} rank(s): step {r['step_s']:.3f} s (compute only "
              f"{r['compute_only_step_s']:.3f} s), allreduce alone {1e3 * r['allreduce_s']:.2f} ms, "
              f"{r['per_rank_chunks_per_s']:.2f} chunks/s per rank, "
              f"{r['total_chunks_per_s']:.2f} in total, {r['per_rank_gflops']:.2f} GFLOP/s "
              f"per rank = {100 * r['fraction_of_ceiling']:.1f}% of its 1-thread ceiling "
              f"{r['ceiling_per_rank']:.1f}; gradients {r['gradient_bytes']} bytes in "
              f"{r['n_gradients']} tensors", flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(r, sort_keys=True) + "\n")
    if 1 in results and len(results) > 1:
        one = results[1]
        for ranks, r in sorted(results.items()):
            if ranks == 1:
                continue
            eff = r["per_rank_chunks_per_s"] / one["per_rank_chunks_per_s"]
            eff_ceiling = (r["fraction_of_ceiling"] / one["fraction_of_ceiling"])
            compute = one["compute_only_step_s"] / r["compute_only_step_s"]
            print(f"weak-scaling efficiency 1 -> {ranks} ranks: {eff:.3f} "
                  f"(compute-only steps: {compute:.3f}; per-rank fraction of the same-run "
                  f"ceiling: {eff_ceiling:.3f}); allreduce is "
                  f"{100 * r['allreduce_s'] / r['step_s']:.2f}% of the {ranks}-rank step")
    last = results[max(results)]
    cost_model(last["gradient_bytes"], last["step_s"])
    print(common.machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
