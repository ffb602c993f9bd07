"""Helpers shared by the benchmark scripts: machine line, thread setup, ceilings, FLOPs.

The machines these benchmarks run on are shared and noisy, so every figure is
reported next to a ceiling measured IN THE SAME PROCESS just before and just
after it (the float32 matrix-multiply rate with the same thread settings).

Nothing here imports TensorFlow at module import time: ``set_threads`` must
run before TensorFlow creates its thread pools.
"""

import datetime
import json
import os
import platform
import socket
import time


def cpu_model():
    """CPU model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    """The SIMD flags that matter for float32 matmul (avx2, fma, avx512f...)."""
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile")
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def machine_line(**extra):
    """One line describing the machine, the software and the current load."""
    import numpy as np
    parts = [f"host={socket.gethostname()}", f"cpu='{cpu_model()}'",
             f"cores={os.cpu_count()}", f"simd={'+'.join(cpu_flags()) or 'none'}"]
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        parts.append(f"mem={kib / 2**20:.0f}GiB")
    except (OSError, ValueError, IndexError):
        pass
    # Under another Keras backend TensorFlow must stay out of the process.
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        try:
            import tensorflow as tf
            parts.append(f"tf={tf.__version__}")
            gpus = tf.config.list_physical_devices("GPU")
            parts.append(f"gpus={len(gpus)}")
        except ImportError:
            pass
    else:
        parts.append(f"keras_backend={os.environ['KERAS_BACKEND']}")
    parts.append(f"numpy={np.__version__}")
    parts.append(f"python={platform.python_version()}")
    parts.append("loadavg=" + "/".join(f"{x:.1f}" for x in os.getloadavg()))
    parts.append("date=" + datetime.datetime.now().isoformat(timespec="seconds"))
    parts.extend(f"{k}={v}" for k, v in extra.items())
    return "machine: " + " ".join(parts)


def set_threads(intra=None, inter=None):
    """Fix TensorFlow's intra-/inter-op pool sizes (before TF runs anything).

    Sets both the environment variables (read by TF and by oneDNN/OpenMP) and
    ``tf.config.threading``. ``None`` or 0 leaves TensorFlow's default.
    """
    if intra:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(intra)
        os.environ["OMP_NUM_THREADS"] = str(intra)
    if inter:
        os.environ["TF_NUM_INTEROP_THREADS"] = str(inter)
    import tensorflow as tf
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    return (tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())


def time_repeated(function, min_seconds=1.0, min_calls=3, warmup=1):
    """Call ``function()`` until ``min_seconds`` and ``min_calls`` are reached.

    Returns the list of per-call wall times (seconds) after ``warmup`` calls.
    ``function`` must block until its result exists (e.g. call ``.numpy()``).
    """
    for _ in range(warmup):
        function()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return times


def matmul_gflops(m, k, n, repeats=None, min_seconds=1.0, jit=False):
    """Float32 ``[m x k] @ [k x n]`` rate in GFLOP/s (best of the timed calls).

    The product is repeated ``repeats`` times inside one ``tf.function`` (a
    ``tf.while_loop`` that feeds each result back in, so nothing is hoisted or
    skipped) to keep Python dispatch out of the measurement for small shapes.
    Returns ``(best GFLOP/s, median GFLOP/s)``.
    """
    import numpy as np
    import tensorflow as tf
    flops = 2.0 * m * k * n
    if repeats is None:
        repeats = max(1, int(2e9 / flops))  # about 2 GFLOP per call
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((m, k)).astype(np.float32) * 0.01)
    b = tf.constant(rng.standard_normal((k, n)).astype(np.float32) * 0.01)
    # The result [m x n] is folded back into a's shape by a cheap slice/pad
    # only when shapes allow; otherwise a is perturbed by a scalar of the result.
    @tf.function(jit_compile=jit)
    def loop(a, b):
        def body(i, a, acc):
            c = tf.matmul(a, b)
            return i + 1, a + 1e-30 * c[0, 0], acc + c[0, 0]
        _, _, acc = tf.while_loop(lambda i, *_: i < repeats, body,
                                  (tf.constant(0), a, tf.constant(0.0)))
        return acc
    times = time_repeated(lambda: loop(a, b).numpy(), min_seconds=min_seconds)
    rates = [flops * repeats / t / 1e9 for t in times]
    return max(rates), float(np.median(rates))


def square_ceiling(n=1024, min_seconds=1.0):
    """The machine's float32 matmul ceiling: best GFLOP/s of ``n x n @ n x n``."""
    return matmul_gflops(n, n, n, min_seconds=min_seconds)[0]


def recurrent_flops_per_step(model_type, units, inputs):
    """Multiply-add FLOPs (2 per MAC) of one step of a recurrent layer."""
    gates = {"gru": 3, "lstm": 4, "vanilla": 1}[model_type]
    return 2 * gates * units * (inputs + units)


def model_flops(config, steps=None):
    """Forward FLOPs per chunk of an RNN-GMM ``config``, from its layer sizes.

    Counts the matrix products (recurrent layers, code and output dense
    layers, estimation net); element-wise gate maths is not counted (it is
    O(units) per step against O(units^2) for the products).

    Returns
    -------
    dict
        ``total`` and a per-part breakdown, FLOPs per chunk.
    """
    steps = int(steps or config["n_max"])
    size = int(config["size"])
    direction = 2 if config.get("bidirectional") else 1
    enc_type = config["model_type"]
    dec_type = config.get("decode_type") or enc_type
    n_enc = int(config["num_layers"])
    n_dec = int(config.get("decode_layers") or n_enc)
    embedding = int(config["embedding"])
    parts = {}
    width = 2  # inputs: time lag, magnitude
    for i in range(n_enc):
        parts[f"encode_{i}"] = direction * steps * recurrent_flops_per_step(enc_type, size, width)
        width = direction * size
    parts["encoding"] = 2 * width * embedding
    width = embedding + 1  # code repeated + time lag
    for i in range(n_dec):
        parts[f"decode_{i}"] = direction * steps * recurrent_flops_per_step(dec_type, size, width)
        width = direction * size
    parts["time_dist"] = 2 * steps * width
    z_size = embedding + 5
    width = z_size
    for i, n in enumerate(config["estnet_size"]):
        parts[f"estnet_{i}"] = 2 * width * int(n)
        width = int(n)
    parts["gamma"] = 2 * width * int(config["num_classes"])
    parts["total"] = sum(parts.values())
    return parts


def emit_json(record, path=None):
    """Print ``record`` as one JSON line prefixed ``RESULT``; append to ``path``."""
    line = json.dumps(record, sort_keys=True)
    print("RESULT " + line, flush=True)
    if path:
        with open(path, "a") as handle:
            handle.write(line + "\n")
