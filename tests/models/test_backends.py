"""The model and its scoring path do not need TensorFlow (issue 16.5).

Two checks:

- always: the modules a JAX or torch process imports to score and train
  (``rnngmm.models``, ``rnngmm.inference``, ``rnngmm.models.jax_step`` /
  ``torch_step`` and every package module they import at module level,
  followed transitively) contain no module-level import of tensorflow,
  horovod or mpi4py. This is read from the source, because this suite's
  interpreter runs Keras on TensorFlow, which imports TensorFlow anyway;
- where an interpreter with JAX or torch is at hand (this one, or the one
  named by ``RNNGMM_JAX_PYTHON`` / ``RNNGMM_TORCH_PYTHON``), the tiny model's
  forward pass and one SGD step under that backend, from the same weights,
  equal TensorFlow's, and that process imported none of the three. Without
  such an interpreter these tests skip with the reason (``-ra`` prints it).
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from model_helpers import BACKEND_CHECK_MODEL, sinusoid_chunks, tiny_model
from rnngmm.inference import predict_chunks
from rnngmm.lightcurves.preprocess import Chunks

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
FORBIDDEN = ("tensorflow", "horovod", "mpi4py")
#: What a JAX/torch process imports to score and train (benchmarks/bench_model.py).
ENTRY_MODULES = ("rnngmm.models", "rnngmm.models.registry", "rnngmm.inference",
                 "rnngmm.models.configs", "rnngmm.lightcurves.preprocess", "rnngmm.models.jax_step",
                 "rnngmm.models.torch_step")


def _source(module):
    """Path of a package module, or None for a module outside ``rnngmm``."""
    if module != "rnngmm" and not module.startswith("rnngmm."):
        return None
    base = REPO.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_level_imports(path, module):
    """Absolute names imported when ``module`` (at ``path``) is imported.

    Imports inside functions run later (or never) and are skipped; those in
    class bodies, ``if`` and ``try`` blocks run at import and are kept.
    """
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                names.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - child.level + 1])
                    base = f"{base}.{child.module}" if child.module else base
                else:
                    base = child.module
                names.append(base)
                # "from pkg import module" imports pkg.module when it is one.
                names.extend(f"{base}.{alias.name}" for alias in child.names
                             if _source(f"{base}.{alias.name}"))
            visit(child)
    visit(ast.parse(path.read_text(), str(path)))
    return names


def import_closure(entries):
    """Every package module imported (at module level) by ``entries``, and
    the forbidden modules each of them imports: ``(modules, {module: [forbidden]})``."""
    seen, offenders, todo = set(), {}, list(entries)
    while todo:
        module = todo.pop()
        # Importing a.b.c first imports a and a.b.
        parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
        todo.extend(p for p in parents if p not in seen)
        if module in seen or _source(module) is None:
            continue
        seen.add(module)
        for name in _module_level_imports(_source(module), module):
            if name.split(".")[0] in FORBIDDEN:
                offenders.setdefault(module, []).append(name)
            elif name not in seen:
                todo.append(name)
    return seen, offenders


def test_import_checker_sees_tensorflow_where_it_is():
    # The checker must find the TensorFlow step's own import, or the test
    # below would pass vacuously.
    _, offenders = import_closure(["rnngmm.models.tf_step"])
    assert offenders == {"rnngmm.models.tf_step": ["tensorflow"]}


def test_scoring_and_training_path_imports_no_tensorflow_horovod_or_mpi4py():
    modules, offenders = import_closure(ENTRY_MODULES)
    assert {"rnngmm.models.rnngmm", "rnngmm.models.layers", "rnngmm.models.gmm",
            "rnngmm.models.forward", "rnngmm.inference"} <= modules
    assert offenders == {}


def _interpreter(backend):
    """An interpreter that can import ``backend``, or None (with the reason)."""
    variable = f"RNNGMM_{backend.upper()}_PYTHON"
    if os.environ.get(variable):
        return os.environ[variable], None
    if importlib.util.find_spec(backend) is not None:
        return sys.executable, None
    return None, (f"{backend} is not importable by this interpreter and {variable} is not "
                  f"set: the {backend} forward pass and training step are NOT checked here "
                  f"(run with {variable}=/path/to/python of an environment with {backend}, "
                  "keras and numpy)")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["joint", "estimation"])
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backend_forward_and_step_equal_tensorflow(backend, stage, tmp_path):
    python, reason = _interpreter(backend)
    if python is None:
        pytest.skip(reason)
    inputs, labels = sinusoid_chunks(n=32, seed=5)
    model = tiny_model(**BACKEND_CHECK_MODEL)
    model.build()
    weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    lr = 0.05
    np.savez(tmp_path / "in.npz", lr=lr, labels=labels, **inputs,
             **{f"w{i}": w for i, w in enumerate(weights)})
    expected = predict_chunks(model, Chunks(inputs["x"], inputs["weights"],
                                            inputs["supports"]), batch_size=16)
    model.compile(optimizer=keras.optimizers.SGD(lr))
    model.stage = stage
    loss = float(model.train_on_batch(inputs, labels, return_dict=True)["loss"])
    after = [keras.ops.convert_to_numpy(w) for w in model.weights]

    env = dict(os.environ, KERAS_BACKEND=backend, JAX_ENABLE_X64="1",
               PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))
    proc = subprocess.run([python, str(TESTS / "models" / "backend_child.py"),
                           str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), stage],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(tmp_path / "out.npz", allow_pickle=False) as got:
        assert not got["imported"].any(), dict(zip(FORBIDDEN, got["imported"]))
        for name in ("gamma", "z", "code", "recon_error"):
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-5,
                                       err_msg=name)
        np.testing.assert_allclose(float(got["loss"]), loss, rtol=1e-4)
        moved = 0
        for i, (before, want) in enumerate(zip(weights, after)):
            np.testing.assert_allclose(got[f"after{i}"], want, rtol=1e-4, atol=1e-6,
                                       err_msg=f"weight {i} ({model.weights[i].path})")
            moved += not np.array_equal(before, want)
        assert moved > 0
