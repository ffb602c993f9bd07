"""Model throughput against the machine's float32 matmul ceiling.

For the fiducial RNN-GMM (GRU 96 x 2 encoder and decoder, 200 steps,
embedding 16) this prints:

- the model's forward FLOPs per chunk counted from its layer sizes
  (training is counted as 3 x forward: forward + two products per weight
  gradient);
- the float32 matmul ceiling (best of a 1024^3 product with and without XLA)
  measured in the same process right before and right after each figure;
- the rate of the GRU's own per-step product ``[batch x 96] @ [96 x 288]``
  in isolation (the real ceiling of this workload);
- scoring (forward) and training (forward + backward + Adam) chunks/s and
  the fraction of the ceiling, for each knob setting: batch size, intra/inter
  op threads, ``tf.function(jit_compile=True)`` (XLA) or not, unrolled GRUs;
- an anatomy of one GRU layer (products only / full cell / with mask) that
  shows where the time goes.

Each setting runs in its own subprocess, because TensorFlow's thread pools
are fixed when it starts.

Under ``KERAS_BACKEND=jax`` or ``torch`` (machines without TensorFlow, e.g.
a GPU node with JAX and PyTorch) the same scoring and training figures are
taken through the package's backend-neutral paths: scoring by
``rnngmm.inference.predict_chunks`` (``jax.jit`` / eager torch), training by
``rnngmm.models.jax_step.JaxTrainStep`` (stateless, jitted) or
``model.train_on_batch`` (torch); the ceiling is the backend's own float32
matmul on its device (``backends.py``), and neither TensorFlow, horovod nor
mpi4py is imported (each record says so in ``imported``). JAX runs with
``JAX_ENABLE_X64=1`` so that the mixture terms of the loss are float64 as
under TensorFlow. The GRU anatomy is TensorFlow-only. Usage::

    .venv/bin/python benchmarks/bench_model.py                # full matrix
    .venv/bin/python benchmarks/bench_model.py --quick        # fewer settings
    .venv/bin/python benchmarks/bench_model.py --config small
    .venv/bin/python benchmarks/bench_model.py --json out.jsonl
    KERAS_BACKEND=jax python benchmarks/bench_model.py --quick --json jax.jsonl

Results are printed as a table and (with ``--json``) appended as JSON lines.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import backends  # noqa: E402
import common  # noqa: E402

#: Modules that must stay out of a JAX/torch benchmark process.
_FORBIDDEN = ("tensorflow", "horovod", "mpi4py")


# ------------------------------------------------------------------ children
def _inputs(batch, steps, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = np.empty((batch, steps, 2), np.float32)
    x[..., 0] = rng.exponential(1.0, (batch, steps))   # time lags
    x[..., 1] = rng.standard_normal((batch, steps))    # standardised magnitudes
    weights = np.ones((batch, steps), np.float32)
    supports = rng.standard_normal((batch, 3)).astype(np.float32)
    labels = rng.integers(0, 8, batch).astype(np.int32)
    return {"x": x, "weights": weights, "supports": supports}, labels


def _build(config_name, unroll):
    from rnngmm.models.configs import get_config
    from rnngmm.models.registry import build_model
    config = get_config(config_name)
    model = build_model("rnngmm", **config)
    if unroll:
        for part in (model.encoder, model.decoder):
            for layer in part.recurrent_layers:
                layer.unroll = True
    model.build()
    return config, model


def _ceiling(seconds):
    """Best float32 1024^3 matmul rate, TensorFlow and XLA (GFLOP/s)."""
    plain = common.matmul_gflops(1024, 1024, 1024, min_seconds=seconds)[0]
    xla = common.matmul_gflops(1024, 1024, 1024, min_seconds=seconds, jit=True)[0]
    return max(plain, xla)


def _gru_shape(batch, size, seconds):
    """Best rate of the GRU's recurrent product [batch x size] @ [size x 3 size]."""
    plain = common.matmul_gflops(batch, size, 3 * size, min_seconds=seconds)[0]
    xla = common.matmul_gflops(batch, size, 3 * size, min_seconds=seconds, jit=True)[0]
    return max(plain, xla)


def _measure_score(s, config, model):
    inputs, _ = _inputs(s["batch"], config["n_max"])
    if s.get("package_path") or s["backend"] != "tensorflow":
        # Exactly what `rnngmm score` / `flag` call.
        from rnngmm.inference import predict_chunks
        from rnngmm.lightcurves.preprocess import Chunks
        chunks = Chunks(inputs["x"], inputs["weights"], inputs["supports"])
        xla = s["jit"] if "jit" in s and not s.get("package_path") else True

        def call():
            predict_chunks(model, chunks, batch_size=s["batch"], xla=xla)
    else:
        import tensorflow as tf

        @tf.function(jit_compile=bool(s["jit"]))
        def forward(x, weights, supports):
            out = model({"x": x, "weights": weights, "supports": supports}, training=False)
            return out["z"], out["gamma"]

        args = [tf.constant(inputs[k]) for k in ("x", "weights", "supports")]

        def call():
            z, _ = forward(*args)
            z.numpy()
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    times = common.time_repeated(call, min_seconds=s["seconds"], min_calls=3, warmup=0)
    return first, times


def _measure_train(s, config, model):
    import keras
    inputs, labels = _inputs(s["batch"], config["n_max"])
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  jit_compile=bool(s["jit"]) and s["backend"] == "tensorflow")
    model.build_for_training()
    if s["backend"] == "jax":
        from rnngmm.models.jax_step import JaxTrainStep
        step = JaxTrainStep(model)

        def call():
            backends.block(step(inputs, labels)["loss"])
    else:
        def call():
            model.train_on_batch(inputs, labels)
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    times = common.time_repeated(call, min_seconds=s["seconds"], min_calls=3, warmup=0)
    return first, times


def _anatomy(s, config):
    """Time one GRU layer's 200-step loop in three variants (XLA, same batch).

    ``products``: only ``x_t @ W`` and ``h @ U`` per step (h fed back), i.e.
    exactly the FLOPs the model count credits; ``cell``: the full reset_after
    GRU cell (products + sigmoid/tanh gates); ``cell+mask``: plus the per-step
    ``where(mask, new, old)`` that Keras applies to masked sequences.
    """
    import numpy as np
    import tensorflow as tf
    batch, steps, units, width = s["batch"], config["n_max"], config["size"], config["size"]
    rng = np.random.default_rng(0)
    xs = tf.constant(rng.standard_normal((steps, batch, width)).astype(np.float32))
    mask = tf.constant(np.ones((steps, batch, 1), bool))
    kernel = tf.constant(rng.standard_normal((width, 3 * units)).astype(np.float32) * 0.1)
    recurrent = tf.constant(rng.standard_normal((units, 3 * units)).astype(np.float32) * 0.1)
    bias = tf.constant(np.zeros((2, 3 * units), np.float32))
    flops = steps * common.recurrent_flops_per_step("gru", units, width) * batch

    def make(variant):
        @tf.function(jit_compile=True)
        def run(xs, h):
            def body(t, h):
                mx = tf.matmul(xs[t], kernel) + bias[0]
                mh = tf.matmul(h, recurrent) + bias[1]
                if variant == "products":
                    new = mx[:, :units] + mh[:, :units]
                else:
                    xz, xr, xh = tf.split(mx, 3, axis=-1)
                    hz, hr, hh = tf.split(mh, 3, axis=-1)
                    z = tf.sigmoid(xz + hz)
                    r = tf.sigmoid(xr + hr)
                    cand = tf.tanh(xh + r * hh)
                    new = z * h + (1.0 - z) * cand
                    if variant == "cell+mask":
                        new = tf.where(mask[t], new, h)
                return t + 1, new
            _, h = tf.while_loop(lambda t, h: t < steps, body, (tf.constant(0), h))
            return h
        return run

    h0 = tf.zeros((batch, units))
    out = {}
    for variant in ("products", "cell", "cell+mask"):
        run = make(variant)
        times = common.time_repeated(lambda: run(xs, h0).numpy(), min_seconds=s["seconds"])
        out[variant] = flops / min(times) / 1e9
    return out


def _ceilings(s):
    """The float32 matmul ceiling of the setting's backend (GFLOP/s)."""
    if s["backend"] == "tensorflow":
        return _ceiling(s["seconds"])
    return backends.matmul_gflops(s["backend"], min_seconds=s["seconds"])


def child(s):
    """Run one setting in this process and print its RESULT line."""
    if s["backend"] == "tensorflow":
        intra, inter = common.set_threads(s.get("intra"), s.get("inter"))
    else:
        if s["backend"] == "jax":
            os.environ.setdefault("JAX_ENABLE_X64", "1")
        intra, inter = backends.set_threads(s["backend"], s.get("intra"))
    import numpy as np
    record = dict(s, intra_actual=intra, inter_actual=inter)
    seconds = s["seconds"]
    before = _ceilings(s)
    from rnngmm.models.configs import get_config
    if s["mode"] == "anatomy":
        config = get_config(s["config"])
        record["anatomy_gflops"] = _anatomy(s, config)
        record["gru_shape_gflops"] = _gru_shape(s["batch"], config["size"], seconds)
    else:
        config, model = _build(s["config"], s.get("unroll", False))
        measure = _measure_score if s["mode"] == "score" else _measure_train
        first, times = measure(s, config, model)
        flops = common.model_flops(config)["total"] * (3 if s["mode"] == "train" else 1)
        record.update(first_call_s=first, best_s=min(times), median_s=float(np.median(times)),
                      calls=len(times), flops_per_chunk=flops,
                      chunks_per_s=s["batch"] / min(times),
                      chunks_per_s_median=s["batch"] / float(np.median(times)))
        record["gflops"] = record["chunks_per_s"] * flops / 1e9
    after = _ceilings(s)
    record.update(ceiling_before=before, ceiling_after=after, ceiling=max(before, after))
    if "gflops" in record:
        record["fraction"] = record["gflops"] / record["ceiling"]
    if s["backend"] != "tensorflow":
        record.update(backends.device_line(s["backend"]))
    record["machine"] = common.machine_line()
    record["imported"] = {name: name in sys.modules for name in _FORBIDDEN}
    common.emit_json(record)


# -------------------------------------------------------------------- parent
def settings(config, quick, seconds, backend="tensorflow"):
    base = {"config": config, "seconds": seconds, "intra": 2, "inter": 2, "jit": False,
            "unroll": False, "backend": backend}
    out = []

    def add(label, **kw):
        out.append(dict(base, label=label, **kw))
    if backend != "tensorflow":
        # The package's paths only (jax.jit / eager torch), batch sizes a GPU may want.
        for batch in (512, 2048) if quick else (256, 512, 2048, 8192):
            add(f"score: {backend} predict_chunks, batch {batch}", mode="score", batch=batch,
                package_path=True, intra=None, inter=None)
        for batch in (256, 500) if quick else (256, 500, 2048):
            add(f"train: {backend} step, batch {batch}", mode="train", batch=batch,
                intra=None, inter=None)
        return out
    # Scoring: start from what the package does, change one knob at a time.
    add("score: package predict_chunks, batch 512 (package default: XLA)", mode="score",
        batch=512, package_path=True, intra=None, inter=None)
    add("score: tf.function, batch 256 (package before XLA)", mode="score", batch=256)
    add("score: batch 1024", mode="score", batch=1024)
    add("score: XLA, batch 256", mode="score", batch=256, jit=True)
    if not quick:
        add("score: XLA, batch 64", mode="score", batch=64, jit=True)
        add("score: XLA, batch 128", mode="score", batch=128, jit=True)
        add("score: XLA, batch 512", mode="score", batch=512, jit=True)
        add("score: XLA, batch 1024", mode="score", batch=1024, jit=True)
        add("score: XLA, batch 2048", mode="score", batch=2048, jit=True)
        add("score: XLA, batch 256, intra 1", mode="score", batch=256, jit=True, intra=1, inter=1)
        add("score: XLA, batch 256, inter 1", mode="score", batch=256, jit=True, inter=1)
        add("score: XLA, batch 256, unrolled GRU", mode="score", batch=256, jit=True,
            unroll=True)
    # Training: the package's compile (no XLA) at its default batch, then knobs.
    add("train: package compile (no XLA), batch 256", mode="train", batch=256)
    add("train: batch 500 (train CLI default)", mode="train", batch=500)
    add("train: XLA, batch 256", mode="train", batch=256, jit=True)
    if not quick:
        add("train: XLA, batch 128", mode="train", batch=128, jit=True)
        add("train: XLA, batch 1024", mode="train", batch=1024, jit=True)
        add("train: batch 500, intra 1 (one rank of 2 x 1)", mode="train", batch=500,
            intra=1, inter=1)
        add("train: batch 500, unrolled GRU", mode="train", batch=500, unroll=True)
    add("anatomy: one GRU layer 96->96, batch 256", mode="anatomy", batch=256, jit=True)
    return out


def run_child(setting, timeout):
    command = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(setting)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return dict(setting, error=f"timed out after {timeout} s")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return dict(setting, error=f"exit {proc.returncode}: " + " | ".join(tail))


def report(results, config_name):
    from rnngmm.models.configs import get_config
    parts = common.model_flops(get_config(config_name))
    print(f"\nbackend {backends.keras_backend()}, model '{config_name}': "
          f"forward {parts['total'] / 1e6:.1f} MFLOP/chunk "
          f"(training counted as 3x = {3 * parts['total'] / 1e6:.1f} MFLOP/chunk); "
          + ", ".join(f"{k} {v / 1e6:.2f}" for k, v in parts.items() if k != "total"
                      and v > 1e5))
    header = (f"{'setting':58s} {'chunks/s':>9s} {'GFLOP/s':>8s} {'ceiling':>8s} "
              f"{'% ceil':>7s} {'vs prev':>8s} {'1st call s':>10s}")
    print(header)
    print("-" * len(header))
    previous = {}
    for r in results:
        if "error" in r:
            print(f"{r['label']:58s} ERROR {r['error']}")
            continue
        if r["mode"] == "anatomy":
            a = r["anatomy_gflops"]
            print(f"{r['label']:58s} products-only {a['products']:.1f}, full cell "
                  f"{a['cell']:.1f}, cell+mask {a['cell+mask']:.1f} GFLOP/s; isolated "
                  f"[{r['batch']}x96]@[96x288] {r['gru_shape_gflops']:.1f}; ceiling "
                  f"{r['ceiling']:.1f}")
            continue
        prev = previous.get(r["mode"])
        gain = f"x{r['fraction'] / prev:.2f}" if prev else ""
        previous.setdefault(r["mode"], r["fraction"])
        print(f"{r['label']:58s} {r['chunks_per_s']:9.1f} {r['gflops']:8.1f} "
              f"{r['ceiling']:8.1f} {100 * r['fraction']:6.1f}% {gain:>8s} "
              f"{r['first_call_s']:10.1f}")
    ceiling = ("TF or XLA, same threads" if backends.keras_backend() == "tensorflow"
               else f"{backends.keras_backend()} on its device")
    print("('vs prev' = fraction of ceiling relative to the first row of the same mode; "
          f"ceiling = best float32 1024^3 matmul, {ceiling}, before/after)")
    for mode in ("score", "train"):
        good = [r for r in results if r.get("mode") == mode and "error" not in r]
        if good:
            best = max(good, key=lambda r: r["fraction"])
            print(f"best {mode}: {best['label']}: {best['chunks_per_s']:.1f} chunks/s, "
                  f"{best['gflops']:.1f} GFLOP/s = {100 * best['fraction']:.1f}% of "
                  f"{best['ceiling']:.1f} GFLOP/s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="fiducial")
    parser.add_argument("--quick", action="store_true", help="fewer settings")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="minimum timed seconds per measurement")
    parser.add_argument("--only", default=None,
                        help="run only settings whose label contains this text")
    parser.add_argument("--timeout", type=int, default=600, help="per setting, seconds")
    parser.add_argument("--json", default=None, help="append JSON lines here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    print(common.machine_line(), flush=True)
    results = []
    for s in settings(args.config, args.quick, args.seconds, backends.keras_backend()):
        if args.only and args.only not in s["label"]:
            continue
        t0 = time.perf_counter()
        r = run_child(s, args.timeout)
        r["wall_s"] = time.perf_counter() - t0
        results.append(r)
        brief = (f"{r['chunks_per_s']:.1f} chunks/s, {100 * r['fraction']:.1f}% of "
                 f"{r['ceiling']:.1f}" if "fraction" in r else r.get("error", "done"))
        print(f"  [{r['wall_s']:5.0f} s] {s['label']}: {brief}", flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(r, sort_keys=True) + "\n")
    report(results, args.config)
    print(common.machine_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
