"""Estimation-head sweep on one trained autoencoder (issue 13.3).

The sequential schedule freezes the autoencoder before the estimation stage,
so every chunk's mixture input ``z`` is fixed once the autoencoder is. This
script computes ``z`` of a finished run's training and validation chunks
once (cached in an HDF5 file), then trains estimation heads of other shapes
and losses on those arrays through the package's own loop
(:func:`rnngmm.training.loop.train`, cached estimation stage), and reports
the per-object validation figures of each head. It never looks at test
objects.

Usage::

    .venv/bin/python benchmarks/head_sweep.py --run_dir RUN --cache /tmp/z.h5 \\
        --variants benchmarks/head_variants.json --out /tmp/heads.json

A variant is a JSON object of model settings (``estnet_size``,
``estnet_drop_frac``, ``estnet_activation``, ``label_smoothing``,
``lambda1``, ``lambda2``) plus ``class_weight`` (as ``rnngmm train``) and
optionally ``epochs``, ``patience``, ``lr``, ``batch_size``, ``seed``.

``"plain": true`` instead trains a plain Keras MLP of the same shape with
the weighted cross-entropy only (no mixture terms), and ``"features": true``
appends the object's hand-made light-curve features
(:mod:`rnngmm.scoring.features`, standardised, NaN as 0) to ``z``: an
experiment on how much the features would add to the head, not a package
path.
"""

import argparse
import copy
import json
import os
import tempfile
import time

import h5py
import numpy as np


def cache_run(run_dir, cache_path):
    """Write the run's frozen-autoencoder outputs of its train/validation chunks."""
    from rnngmm.dist import Dist
    from rnngmm.io.dataset import Dataset
    from rnngmm.rundir import load_model
    from rnngmm.training.cached import cache_chunks
    from rnngmm.training.config import TrainConfig
    from rnngmm.training.data import load_training_data
    from rnngmm.training.distributed import Collectives
    from rnngmm.training.driver import catalog_cuts
    from rnngmm.training.options import model_config_from_args

    config = TrainConfig.from_run(run_dir)
    collectives = Collectives(Dist())
    with Dataset(config.data) as dataset:
        data = load_training_data(
            dataset, collectives, n_min=config.n_min,
            n_max=model_config_from_args(config)["n_max"], period_fold=config.period_fold,
            novel_classes=config.novel_classes,
            validation_fraction=config.validation_fraction, seed=config.seed,
            excluded=catalog_cuts(dataset, config))
    model = load_model(os.path.join(run_dir, "model.keras"))
    with h5py.File(cache_path + ".tmp", "w") as out:
        out.attrs["class_names"] = json.dumps(data.class_names)
        for name in ("train", "validation"):
            cached = cache_chunks(model, getattr(data, name), collectives)
            group = out.create_group(name)
            for field in ("z", "recon_error", "object_index", "labels"):
                group[field] = getattr(cached, field)
    os.replace(cache_path + ".tmp", cache_path)


def load_cache(cache_path):
    from rnngmm.training.cached import CachedChunks
    with h5py.File(cache_path, "r") as f:
        parts = {name: CachedChunks(*(f[name][k][()] for k in
                                      ("z", "recon_error", "object_index", "labels")))
                 for name in ("train", "validation")}
        return json.loads(f.attrs["class_names"]), parts


def object_predictions(model, part):
    """Per-object mean class probabilities of a cached part: (objects, labels, gamma)."""
    from rnngmm.inference import mean_by_object
    gamma = np.concatenate([np.asarray(model.estimation_net(part.z[i:i + 4096]))
                            for i in range(0, len(part), 4096)])
    objects, mean_gamma, _ = mean_by_object(gamma, part.object_index)
    first = {o: l for o, l in zip(part.object_index[::-1], part.labels[::-1])}
    return objects, np.array([first[o] for o in objects]), mean_gamma


def train_head(run_dir, class_names, parts, variant):
    """Train one estimation head on the cached parts; return validation figures."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, f1_score

    import rnngmm.training.cached as cached_module
    from rnngmm.dist import Dist
    from rnngmm.models.registry import build_model
    from rnngmm.class_frequencies import balanced_class_weights, class_weight_power
    from rnngmm.training.data import TrainingData
    from rnngmm.training.distributed import Collectives
    from rnngmm.training.loop import TrainOptions, prepare_model, train

    stored = json.load(open(os.path.join(run_dir, "config.json")))
    variant = dict(variant)
    loop_keys = {"epochs": 300, "patience": 30, "lr": 1e-3, "batch_size": 256, "seed": 0}
    loop = {k: variant.pop(k, v) for k, v in loop_keys.items()}
    power = class_weight_power(variant.pop("class_weight", "balanced"))
    variant.pop("name", None)
    model_config = copy.deepcopy(stored["model"])
    model_config.update(variant)
    model_config["class_weights"] = (balanced_class_weights(parts["train"].labels,
                                                            len(class_names), power)
                                     if power > 0 else None)
    keras.utils.set_random_seed(loop["seed"])
    model = build_model("rnngmm", **model_config)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=loop["lr"], clipnorm=5.0))
    collectives = Collectives(Dist())
    options = TrainOptions(stages=[("autoencoder", 0), ("estimation", loop["epochs"])],
                           batch_size=loop["batch_size"], lr=loop["lr"], scale_lr=False,
                           patience=loop["patience"], checkpoint_every=10 ** 6,
                           keep_checkpoints=1, seed=loop["seed"], verbose=False)
    prepare_model(model, collectives, options)
    data = TrainingData(class_names, parts["train"], parts["validation"], {}, [])
    # The parts ARE the cached outputs: hand them to the loop as they are.
    original = cached_module.cache_chunks
    cached_module.cache_chunks = lambda _model, part, *_args, **_kw: part
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as run:
            result = train(model, data, collectives, run, options)
    finally:
        cached_module.cache_chunks = original
    seconds = time.perf_counter() - started
    _, labels, gamma = object_predictions(model, parts["validation"])
    predicted = gamma.argmax(axis=1)
    per_class = f1_score(labels, predicted, labels=range(len(class_names)), average=None)
    return {"val_macro_f1": float(f1_score(labels, predicted, average="macro")),
            "val_balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
            "val_f1": dict(zip(class_names, map(float, per_class))),
            "epochs": len(result.history), "seconds": round(seconds, 1),
            "best_val_loss": result.state.get("best")}


def _object_features(run_dir):
    """Standardised feature rows of the run's dataset (NaN -> 0), by dataset index."""
    from rnngmm.io.dataset import Dataset
    from rnngmm.scoring.features import dataset_features
    from rnngmm.training.config import TrainConfig
    with Dataset(TrainConfig.from_run(run_dir).data) as dataset:
        features = dataset_features(dataset)
    features = np.where(np.isfinite(features), features, np.nan)
    mean, std = np.nanmean(features, axis=0), np.nanstd(features, axis=0)
    return np.nan_to_num((features - mean) / np.where(std > 0, std, 1.0))


def train_plain_head(run_dir, class_names, parts, variant):
    """A plain MLP on z (optionally + features); validation figures per object."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from rnngmm.inference import mean_by_object
    from rnngmm.class_frequencies import balanced_class_weights, class_weight_power

    inputs = {}
    extra = _object_features(run_dir) if variant.get("features") else None
    for name, part in parts.items():
        x = part.z
        if extra is not None:
            x = np.hstack([x, extra[part.object_index]])
        inputs[name] = x.astype("float32")
    mean, std = inputs["train"].mean(axis=0), inputs["train"].std(axis=0) + 1e-6
    inputs = {k: (v - mean) / std for k, v in inputs.items()}
    power = class_weight_power(variant.get("class_weight", "sqrt"))
    weights = np.asarray(balanced_class_weights(parts["train"].labels, len(class_names), power))
    keras.utils.set_random_seed(int(variant.get("seed", 0)))
    layers = [keras.Input((inputs["train"].shape[1],))]
    for units in variant.get("estnet_size", [64, 64]):
        layers += [keras.layers.Dense(units, activation=variant.get("estnet_activation", "relu")),
                   keras.layers.Dropout(variant.get("estnet_drop_frac", 0.2))]
    layers.append(keras.layers.Dense(len(class_names), activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(variant.get("lr", 1e-3)),
                  loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(patience=int(variant.get("patience", 30)),
                                         restore_best_weights=False)
    started = time.perf_counter()
    history = model.fit(inputs["train"], parts["train"].labels,
                        sample_weight=weights[parts["train"].labels],
                        validation_data=(inputs["validation"], parts["validation"].labels),
                        epochs=int(variant.get("epochs", 300)), batch_size=256,
                        callbacks=[stop], verbose=0)
    seconds = time.perf_counter() - started
    gamma = model.predict(inputs["validation"], verbose=0, batch_size=4096)
    objects, mean_gamma, _ = mean_by_object(gamma, parts["validation"].object_index)
    first = {o: l for o, l in zip(parts["validation"].object_index[::-1],
                                  parts["validation"].labels[::-1])}
    labels = np.array([first[o] for o in objects])
    predicted = mean_gamma.argmax(axis=1)
    per_class = f1_score(labels, predicted, labels=range(len(class_names)), average=None)
    return {"val_macro_f1": float(f1_score(labels, predicted, average="macro")),
            "val_balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
            "val_f1": dict(zip(class_names, map(float, per_class))),
            "epochs": len(history.history["loss"]), "seconds": round(seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--cache", required=True, help="HDF5 file of the cached z (made once)")
    parser.add_argument("--variants", required=True, help="JSON list of variants")
    parser.add_argument("--out", required=True, help="results JSON (appended per variant)")
    args = parser.parse_args(argv)
    if not os.path.exists(args.cache):
        cache_run(args.run_dir, args.cache)
    class_names, parts = load_cache(args.cache)
    variants = json.load(open(args.variants))
    results = json.load(open(args.out)) if os.path.exists(args.out) else []
    done = {json.dumps(r["variant"], sort_keys=True) for r in results}
    for variant in variants:
        key = json.dumps(variant, sort_keys=True)
        if key in done:
            continue
        trainer = train_plain_head if variant.get("plain") else train_head
        figures = trainer(args.run_dir, class_names, parts, variant)
        results.append({"variant": variant, **figures})
        print(f"{variant.get('name', key)}: macro-F1 {figures['val_macro_f1']:.3f}  "
              f"bal.acc {figures['val_balanced_accuracy']:.3f}  "
              f"({figures['epochs']} epochs, {figures['seconds']} s)", flush=True)
        with open(args.out + ".tmp", "w") as handle:
            json.dump(results, handle, indent=1)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
