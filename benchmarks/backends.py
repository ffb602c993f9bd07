"""What the model benchmark needs from a Keras backend other than TensorFlow.

``bench_model.py`` runs under ``KERAS_BACKEND=tensorflow`` (its TensorFlow
helpers in ``common.py``), ``jax`` or ``torch``. For JAX and torch this module
gives the same pieces without importing TensorFlow: thread settings, the
float32 matmul ceiling, the device in use, and a blocking read of a result.
Backends are imported inside the functions, after the thread settings.
"""

import os

import common


def keras_backend():
    """The backend Keras will use, from ``KERAS_BACKEND`` (Keras' own default: tensorflow)."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def set_threads(backend, intra=None):
    """Fix the CPU threads of ``backend`` where it allows it after start-up.

    torch: ``torch.set_num_threads``. JAX/XLA reads its CPU pool size only
    at start-up and has no public setting: left to its default (all cores).
    Returns ``(intra, inter)`` as far as known (None = backend default).
    """
    if backend == "torch":
        import torch
        if intra:
            torch.set_num_threads(int(intra))
        return torch.get_num_threads(), torch.get_num_interop_threads()
    return None, None


def device_line(backend):
    """``{"backend", "backend_version", "device"}`` of the process (GPU name if any)."""
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        return {"backend": backend, "backend_version": jax.__version__,
                "device": f"{device.platform}:{getattr(device, 'device_kind', '')}",
                "devices": len(jax.devices())}
    import torch
    if torch.cuda.is_available():
        device = f"cuda:{torch.cuda.get_device_name(0)}"
    else:
        device = "cpu"
    return {"backend": backend, "backend_version": torch.__version__, "device": device,
            "devices": max(1, torch.cuda.device_count())}


def block(value):
    """Wait for ``value`` (a backend tensor or a dict/list of them) to be computed."""
    import keras
    leaves = value.values() if isinstance(value, dict) else (
        value if isinstance(value, (list, tuple)) else [value])
    for leaf in leaves:
        keras.ops.convert_to_numpy(leaf)


def matmul_gflops(backend, n=1024, min_seconds=1.0, min_calls=3):
    """Best float32 ``[n x n] @ [n x n]`` rate (GFLOP/s) of ``backend`` on its device.

    Each call chains about 2 GFLOP of products that feed back into the next
    (JAX: one jitted ``fori_loop``; torch: a Python loop of ``matmul``,
    synchronised at the end), so nothing is hoisted and dispatch is amortised.
    """
    import numpy as np
    flops = 2.0 * n ** 3
    repeats = max(1, int(2e9 / flops))
    a0 = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32) * 0.01
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        @jax.jit
        def chain(a):
            def body(_, a):
                return a + 1e-30 * (a @ a)
            return jax.lax.fori_loop(0, repeats, body, a)

        a = jnp.asarray(a0)

        def call():
            chain(a).block_until_ready()
    else:
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        a = torch.as_tensor(a0, device=device)

        def call():
            b = a
            with torch.no_grad():
                for _ in range(repeats):
                    b = b + 1e-30 * (b @ b)
            b[0, 0].item()
    times = common.time_repeated(call, min_seconds=min_seconds, min_calls=min_calls,
                                 warmup=1)  # the warm-up call compiles
    return flops * repeats / min(times) / 1e9
