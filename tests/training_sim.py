"""Tiny simulated datasets for the training tests (sinusoids of a few classes)."""

import numpy as np

from rnngmm.io.dataset import write_dataset

#: Class name -> (period range in days, amplitude range in mag).
CLASSES = {"RRab": ((0.4, 0.7), (0.6, 1.0)), "EW": ((0.25, 0.4), (0.2, 0.4)),
           "LPV": ((80.0, 200.0), (1.0, 2.0))}


def write_sim_dataset(path, *, n_per_class=12, n_points=40, seed=0, short=0,
                      classes=CLASSES):
    """Write a prepared dataset of sinusoidal light curves.

    ``short`` extra objects of the first class get only 5 points (below any
    sensible ``--n_min``), to exercise reject reporting.
    """
    rng = np.random.default_rng(seed)
    ids, labels, periods, curves = [], [], [], []
    for name, ((p_lo, p_hi), (a_lo, a_hi)) in classes.items():
        for i in range(n_per_class):
            period = rng.uniform(p_lo, p_hi)
            amplitude = rng.uniform(a_lo, a_hi)
            time = np.sort(rng.uniform(53500.0, 53500.0 + 900.0, n_points))
            err = rng.uniform(0.02, 0.08, n_points)
            mag = (15.0 + amplitude * np.sin(2 * np.pi * time / period + rng.uniform(0, 6))
                   + rng.normal(0, err))
            ids.append(f"{name}-{i:03d}")
            labels.append(name)
            periods.append(period)
            curves.append((time, mag, err))
    first = next(iter(classes))
    for i in range(short):
        time = np.sort(rng.uniform(53500.0, 54400.0, 5))
        curves.append((time, 15 + 0.1 * rng.normal(size=5), np.full(5, 0.05)))
        ids.append(f"short-{i:03d}")
        labels.append(first)
        periods.append(0.5)
    n = len(ids)
    objects = {"id": ids, "label": labels, "period": np.array(periods),
               "period_source": ["catalog"] * n, "period_power": np.full(n, np.nan)}
    write_dataset(path, objects, curves, inputs={"simulated": True})
    return path


def tiny_train_args(dataset, log_dir, run_name, *, epochs=2, extra=(), sequential=False):
    """Flags of a seconds-long ``rnngmm train`` on :func:`write_sim_dataset` data
    (joint; ``sequential`` adds 2 estimation epochs after ``epochs`` autoencoder ones)."""
    schedule = ["--cls_epoch", "2"] if sequential else ["--gmm_on"]
    return ["train", "--data", str(dataset), "--config", "tiny", "--n_min", "20",
            "--n_max", "32", "--batch_size", "8", "--nb_epoch", str(epochs), *schedule,
            "--log_dir", str(log_dir), "--run_name", run_name, "--threads", "1",
            *map(str, extra)]


def quiet_env(**extra):
    """Environment for subprocess runs: TensorFlow's C++ logging silenced."""
    import os
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def read_weights(path):
    """Arrays of a ``weights-rank<r>.h5`` dump, in order."""
    import h5py
    with h5py.File(path, "r") as f:
        return [f[k][()] for k in sorted(f)]


def max_difference(a, b):
    """Largest absolute difference between two lists of arrays."""
    assert len(a) == len(b)
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
