"""The Horovod-aware training driver: an epoch loop around ``model.fit``.

Determinism (what makes stop-and-resume equal an uninterrupted run):

- each rank trains on its own chunks; the batches of epoch ``e`` on rank
  ``r`` of ``size`` depend only on ``(seed, e, r, size)``
  (:func:`rnngmm.training.data.epoch_batches`);
- every dropout seed generator is re-seeded before each step from
  ``(seed, epoch, step, rank, layer)``, so no RNG state has to survive;
- the optimizer (moments, iteration count, learning rate) and the loop state
  (epoch, step, early-stopping counters, history) are in each checkpoint;
- the learning rate is a function of the optimizer's iteration count.

Only rank 0 writes files and prints. Every collective is called by all ranks
in the same order: per step the gradient allreduce (inside ``train_step``)
and a stop-flag allreduce; per epoch the metric averages.
"""

import logging
import math
import os
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from rnngmm import debug
from rnngmm.training import checkpoint as ckpt
from rnngmm.training.data import epoch_batches, eval_dataset, train_dataset
from rnngmm.rundir import write_history
from rnngmm.training.signals import StopRequest
from rnngmm.training.augment import random_subsets
from rnngmm.training.cached import cache_chunks

#: Metrics reported by the model's train/test steps (model contract).
METRICS = ("loss", "recon", "ce", "energy", "penalty", "accuracy")


@dataclass
class TrainOptions:
    """Settings of the training loop (from the ``train`` flags).

    Attributes
    ----------
    stages : list of (str, int)
        ``(model stage, epochs)`` in order, see :func:`stage_plan`.
    batch_size : int
        Per-rank batch size.
    lr : float
        Learning rate of one rank.
    scale_lr : bool
        Multiply ``lr`` by the number of ranks (the global batch grows too).
    warmup_epochs : float
        Linear warm-up of the learning rate over this many epochs.
    patience : int
        Epochs without improvement of the monitored loss before a stage
        stops early; 0 disables early stopping.
    checkpoint_every, keep_checkpoints : int
        Checkpoint every N epochs; keep the newest K (plus the best).
    seed : int
    average_gradients : bool
        False only in tests, to show what un-averaged training gives.
    time_budget_s : float, optional
        Wall-time budget of the whole loop (seconds); an epoch that is not
        expected to end within it is not started, and the run ends cleanly.
    stage_budget_s : dict, optional
        Per-stage caps within the budget (e.g. the autoencoder stage of a
        sequential run); time a stage leaves unused goes to the next.
    cache_estimation : bool
        Train the "estimation" stage on cached frozen-autoencoder outputs
        (:mod:`rnngmm.training.cached`).
    augment_min_points : int, optional
        Cut training chunks to random subsets of at least this many points
        (:func:`rnngmm.training.augment.random_subsets`); None: no augmentation.
    augment_probability : float
        Chance that a chunk is cut, each epoch.
    lr_schedule : {"constant", "cosine"}
        "cosine" anneals the learning rate of the autoencoder and joint
        stages from ``lr`` to ``LR_FLOOR`` x ``lr`` over the stage
        (:func:`schedule_factor`).
    """

    stages: list
    batch_size: int = 500
    lr: float = 1e-3
    scale_lr: bool = True
    warmup_epochs: float = 0.0
    patience: int = 20
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    seed: int = 0
    average_gradients: bool = True
    verbose: bool = True
    eval_batch_size: int = 1024
    time_budget_s: float = None
    stage_budget_s: dict = field(default_factory=dict)
    cache_estimation: bool = True
    augment_min_points: int = None
    augment_probability: float = 0.5
    lr_schedule: str = "constant"


#: Fraction of the learning rate a cosine schedule ends at.
LR_FLOOR = 0.05


def stage_progress(options, state, stage, epoch, start, end):
    """How far ``stage`` (containing ``epoch``) has come, in [0, 1].

    The larger of the epochs done (of the stage's maximum) and, under a time
    budget, the stage's time spent of its cap (or of the whole budget for a
    run without caps): a budgeted run anneals to the end of its wall time.
    Every input is the same on every rank (rank 0's clock is broadcast).
    """
    progress = (epoch - start) / max(end - start, 1)
    cap = options.stage_budget_s.get(stage)
    if cap:
        progress = max(progress, state.get("stage_elapsed_s", 0.0) / cap)
    elif options.time_budget_s and not options.stage_budget_s:
        progress = max(progress, state.get("elapsed_s", 0.0) / options.time_budget_s)
    return min(max(progress, 0.0), 1.0)


def schedule_factor(options, state, stage, epoch, start, end):
    """Multiplier of the base learning rate for the next epoch (1 = constant)."""
    if options.lr_schedule != "cosine" or stage == "estimation":
        return 1.0
    progress = stage_progress(options, state, stage, epoch, start, end)
    return LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainResult:
    """Outcome of :func:`train`: ``status`` is "completed" or "interrupted"."""

    status: str
    state: dict
    history: list = field(default_factory=list)
    signal: str = None


def stage_plan(gmm_on, nb_epoch, cls_epoch):
    """Stages of a run: joint, or autoencoder then estimation (sequential)."""
    if gmm_on:
        return [("joint", int(nb_epoch))]
    return [("autoencoder", int(nb_epoch)), ("estimation", int(cls_epoch))]


def _stage_bounds(stages):
    bounds, start = [], 0
    for name, n in stages:
        bounds.append((name, start, start + n))
        start += n
    return bounds


def stage_at(stages, epoch):
    """``(stage name, first epoch, end epoch)`` of the stage containing ``epoch``."""
    for name, start, stop in _stage_bounds(stages):
        if start <= epoch < stop:
            return name, start, stop
    name, start, stop = _stage_bounds(stages)[-1]
    return name, start, stop


def _seed_variables(model):
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def _mixed_seed(*numbers):
    return int(np.random.SeedSequence([int(n) for n in numbers]).generate_state(1)[0] >> 1)


class StepControl(keras.callbacks.Callback):
    """Per-step learning rate and dropout seeds; stops the epoch on a signal."""

    def __init__(self, *, base_lr, warmup_steps, seed, epoch, start_step, rank,
                 stop, collectives):
        super().__init__()
        self.base_lr = base_lr
        self.warmup_steps = warmup_steps
        self.seed, self.epoch, self.start_step, self.rank = seed, epoch, start_step, rank
        self.stop, self.collectives = stop, collectives
        self.steps_done = 0
        self.interrupted = False
        self._seed_vars = None

    def on_train_batch_begin(self, batch, logs=None):
        model = self.model
        if self._seed_vars is None:
            self._seed_vars = _seed_variables(model)
        step = self.start_step + batch
        for i, variable in enumerate(self._seed_vars):
            variable.assign(np.array([_mixed_seed(self.seed, self.epoch, step, self.rank, i), 0],
                                     dtype=variable.dtype))
        iteration = int(model.optimizer.iterations.numpy())
        factor = min(1.0, (iteration + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        model.optimizer.learning_rate.assign(self.base_lr * factor)

    def on_train_batch_end(self, batch, logs=None):
        self.steps_done += 1
        debug.self_signal(self.epoch, self.start_step + self.steps_done, self.rank)
        if self.collectives.any(self.stop.requested is not None):
            self.interrupted = True
            self.model.stop_training = True


log = logging.getLogger(__name__)


def _augmenter(options, epoch, rank):
    """The epoch's chunk augmentation (seeded by seed, epoch and rank), or None."""
    if options.augment_min_points is None:
        return None
    rng = np.random.default_rng([options.seed, epoch, rank, 7])

    def augment(chunks):
        return random_subsets(chunks, rng, min_points=options.augment_min_points,
                              probability=options.augment_probability)
    return augment


def _log(options, collectives, message):
    if options.verbose and collectives.dist.is_root:
        log.info(message)


def _evaluate(model, part, collectives, batch_size):
    """Validation metrics of every rank's own validation chunks, averaged over
    ranks (weighted by chunks), or {}."""
    mine = part
    values = np.zeros(len(METRICS) + 1)
    if len(mine):
        logs = model.evaluate(eval_dataset(mine, batch_size), verbose=0, return_dict=True)
        values[:-1] = [float(logs[m]) * len(mine) for m in METRICS]
        values[-1] = len(mine)
    totals = collectives.allreduce_sum(values)
    if totals[-1] == 0:
        return {}
    return {f"val_{m}": totals[i] / totals[-1] for i, m in enumerate(METRICS)}


def _average_train_logs(logs, collectives):
    values = collectives.allreduce_sum([float(logs.get(m, np.nan)) for m in METRICS])
    return {m: values[i] / collectives.dist.size for i, m in enumerate(METRICS)}


def _initial_state(options):
    return {"epoch": 0, "step": 0, "stage": None, "best": None, "best_epoch": None,
            "best_checkpoint": None, "wait": 0, "seed": options.seed, "history": [],
            "elapsed_s": 0.0, "stage_elapsed_s": 0.0}


def budget_left(options, state, stage, epoch_seconds):
    """Which budget, if any, the next epoch would overrun: None, ``"stage"`` or ``"run"``.

    An epoch is started only when one more epoch of the last one's length
    still fits, so a run ends (checkpoint, mixture, files) within its budget.

    A capped stage (the autoencoder of a sequential run) hands over to the
    next stage when its cap OR the run's budget would be overrun, and the
    stages after it keep the share of the budget the caps leave them,
    counted from where they start: an autoencoder epoch longer than its cap
    (a tiny budget, a loaded machine) then still leaves the estimation stage
    its minutes instead of ending the run with an untrained head.
    """
    if options.time_budget_s is None:
        return None
    elapsed = state.get("elapsed_s", 0.0)
    stage_elapsed = state.get("stage_elapsed_s", 0.0)
    cap = options.stage_budget_s.get(stage)
    if cap is not None:
        overrun = (stage_elapsed + epoch_seconds > cap
                   or elapsed + epoch_seconds > options.time_budget_s)
        return "stage" if overrun else None
    reserved = options.time_budget_s - sum(options.stage_budget_s.values())
    limit = max(options.time_budget_s, elapsed - stage_elapsed + reserved)
    return "run" if elapsed + epoch_seconds > limit else None


def prepare_model(model, collectives, options):
    """Build model and optimizer variables, attach the gradient hook, and give
    every rank rank 0's initial values."""
    model.build()
    model.optimizer.build(model.trainable_variables)
    if options.average_gradients:
        model.gradient_hook = collectives.gradient_hook
    collectives.broadcast_variables(model.variables)
    collectives.broadcast_variables(model.optimizer.variables)


def resume_state(model, collectives, checkpoint_dir, options):
    """Restore the newest valid checkpoint on rank 0 and share it; return the state."""
    state = _initial_state(options)
    found = None
    if collectives.dist.is_root:
        found = ckpt.latest_valid_checkpoint(checkpoint_dir)
        if found is not None:
            ckpt.restore_checkpoint(found, model)
            state = found.state
            log.info(f"resuming from {found.path} (epoch {state['epoch']}, "
                     f"step {state.get('step', 0)})")
        else:
            log.info(f"no valid checkpoint in {checkpoint_dir}: starting from scratch")
    state = collectives.broadcast_json(state)
    collectives.broadcast_variables(model.variables)
    collectives.broadcast_variables(model.optimizer.variables)
    return state


def _save(model, collectives, checkpoint_dir, state, options):
    if not collectives.dist.is_root:
        return None
    name = ckpt.checkpoint_name(state["epoch"], state["step"])
    path = os.path.join(checkpoint_dir, name)
    ckpt.save_checkpoint(path, model, state)
    keep = [os.path.join(checkpoint_dir, state["best_checkpoint"])] if state["best_checkpoint"] else []
    ckpt.prune_checkpoints(checkpoint_dir, options.keep_checkpoints, keep=keep + [path])
    return path


def _write_tensorboard(writer, row, epoch):
    if writer is None:
        return
    import tensorflow as tf
    with writer.as_default():
        for key, value in row.items():
            if isinstance(value, (int, float)) and key != "epoch":
                tf.summary.scalar(key, value, step=epoch)
    writer.flush()


def train(model, data, collectives, run_dir, options, *, state=None, stop=None,
          on_epoch=None):
    """Run (or continue) the training loop.

    Parameters
    ----------
    model : keras.Model
        Compiled, prepared with :func:`prepare_model`.
    data : rnngmm.training.data.TrainingData
    collectives : rnngmm.training.distributed.Collectives
    run_dir : str
        Run directory (checkpoints/, training.csv, tensorboard/ inside).
    options : TrainOptions
    state : dict, optional
        Loop state from :func:`resume_state`; None starts from scratch.
    stop : StopRequest, optional
        Signal handler state; a fresh, uninstalled one if None.
    on_epoch : callable, optional
        ``on_epoch(row, model, validation_part) -> bool`` after each epoch, on
        every rank (``row``: the epoch's ``history`` entry). Rank 0's answer is
        broadcast; True ends the run as if its budget were spent (e.g. a
        pruned hyper-parameter trial).

    Returns
    -------
    TrainResult
    """
    dist = collectives.dist
    stop = stop or StopRequest()
    state = dict(state or _initial_state(options))
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    writer = None
    if dist.is_root:
        os.makedirs(checkpoint_dir, exist_ok=True)
        import tensorflow as tf
        writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard"))
    total = sum(n for _, n in options.stages)
    size = dist.size
    base_lr = options.lr * (size if options.scale_lr else 1)
    # warm-up counted in steps of the first stage's epochs
    steps_per_epoch = len(epoch_batches(data.stage_chunks(options.stages[0][0])[2],
                                        options.batch_size, seed=0, epoch=0, rank=dist.rank))
    warmup_steps = int(round(options.warmup_epochs * steps_per_epoch))
    cached = {}

    def stage_data(stage):
        """Training and validation parts of ``stage`` (cached ones computed once)."""
        if stage != "estimation" or not options.cache_estimation:
            return data.stage_chunks(stage)[:2]
        if not cached:
            started = time.perf_counter()
            train_part, validation_part, train_counts, validation_counts = \
                data.stage_chunks(stage)
            cached["train"] = cache_chunks(model, train_part, collectives,
                                           options.eval_batch_size)
            cached["validation"] = cache_chunks(model, validation_part, collectives,
                                                options.eval_batch_size)
            _log(options, collectives, f"estimation stage: frozen-autoencoder outputs of "
                 f"{sum(train_counts) + sum(validation_counts)} chunks cached in "
                 f"{time.perf_counter() - started:.1f} s")
        return cached["train"], cached["validation"]

    while state["epoch"] < total:
        epoch, start_step = state["epoch"], state["step"]
        stage, stage_start, stage_end = stage_at(options.stages, epoch)
        if state["stage"] != stage:
            state.update(stage=stage, best=None, best_epoch=None, wait=0, stage_elapsed_s=0.0)
        if model.stage != stage:
            model.stage = stage
        if stage == "estimation":  # re-observed chunks need the trained autoencoder
            data.add_estimation_chunks(model, collectives)
        _, _, train_counts, validation_counts = data.stage_chunks(stage)
        monitor = "val_loss" if sum(validation_counts) else "loss"
        batches = epoch_batches(train_counts, options.batch_size, seed=options.seed,
                                epoch=epoch, rank=dist.rank)
        factor = schedule_factor(options, state, stage, epoch, stage_start, stage_end)
        control = StepControl(base_lr=base_lr * factor, warmup_steps=warmup_steps,
                              seed=options.seed, epoch=epoch, start_step=start_step,
                              rank=dist.rank, stop=stop, collectives=collectives)
        started = time.perf_counter()
        # No Keras progress bar: under mpirun every rank has a pseudo-terminal
        # and the bar would fill job logs with escape codes; one line per epoch.
        train_part, validation_part = stage_data(stage)
        history = model.fit(train_dataset(train_part, batches, start_step,
                                          _augmenter(options, epoch, dist.rank)),
                            epochs=1, verbose=0, callbacks=[control], shuffle=False)
        done = start_step + control.steps_done
        if control.interrupted and done < len(batches):
            state["step"] = done
            path = _save(model, collectives, checkpoint_dir, state, options)
            _log(options, collectives, f"stopped by {stop.requested or 'a signal on another rank'} "
                 f"at epoch {epoch + 1} step {done}; checkpoint {path}")
            return TrainResult("interrupted", state, state["history"], stop.requested)

        logs = {k: v[-1] for k, v in history.history.items()}
        row = {"epoch": epoch, "stage": stage,
               "lr": float(model.optimizer.learning_rate.numpy())}
        seconds = time.perf_counter() - started
        row.update(_average_train_logs(logs, collectives))
        row.update(_evaluate(model, validation_part, collectives, options.eval_batch_size))
        state["history"].append(row)
        state.update(epoch=epoch + 1, step=0)
        value = row[monitor]
        improved = state["best"] is None or value < state["best"]
        if improved:
            state.update(best=value, best_epoch=epoch, wait=0,
                         best_checkpoint=ckpt.checkpoint_name(epoch + 1))
        else:
            state["wait"] += 1
        early = options.patience > 0 and state["wait"] >= options.patience
        if early:
            state["epoch"] = stage_end  # on to the next stage (or the end)
        ended = on_epoch is not None and collectives.broadcast_json(
            bool(on_epoch(row, model, validation_part)))
        if ended:
            state["epoch"] = total
            _log(options, collectives, f"run ended after epoch {epoch + 1} by the epoch callback")
        # Rank 0's clock decides for every rank, so all take the same branch.
        epoch_seconds = collectives.broadcast_json(time.perf_counter() - started)
        state["elapsed_s"] = state.get("elapsed_s", 0.0) + epoch_seconds
        state["stage_elapsed_s"] = state.get("stage_elapsed_s", 0.0) + epoch_seconds
        spent = None if state["epoch"] >= stage_end else budget_left(options, state, stage,
                                                                      epoch_seconds)
        if spent is not None:
            state["epoch"] = total if spent == "run" else stage_end
        stopping = collectives.any(stop.requested is not None)
        if (improved or early or stopping or spent or state["epoch"] >= total
                or (epoch + 1) % options.checkpoint_every == 0):
            _save(model, collectives, checkpoint_dir, state, options)
        if dist.is_root:
            write_history(os.path.join(run_dir, "training.csv"), state["history"])
            _write_tensorboard(writer, row, epoch)
        _log(options, collectives, _epoch_line(row, total) + f"  ({seconds:.1f} s)")
        if early:
            _log(options, collectives, f"early stopping of stage {stage!r}: no improvement "
                 f"of {monitor} for {options.patience} epochs (best epoch {state['best_epoch'] + 1})")
        if spent is not None:
            _log(options, collectives, f"time budget of the {spent if spent == 'run' else repr(stage) + ' stage'} "
                 f"spent after {state['elapsed_s'] / 60:.1f} min: "
                 + ("finishing the run" if spent == "run" else "on to the next stage"))
        if stopping:
            _log(options, collectives, f"stopped by {stop.requested or 'a signal on another rank'} "
                 f"after epoch {epoch + 1}; resume with --resume")
            return TrainResult("interrupted", state, state["history"], stop.requested)
    return TrainResult("completed", state, state["history"])


def _epoch_line(row, total):
    parts = [f"epoch {row['epoch'] + 1}/{total} [{row['stage']}]"]
    for key in ("loss", "recon", "ce", "energy", "accuracy", "val_loss", "val_accuracy"):
        if key in row:
            parts.append(f"{key} {row[key]:.4g}")
    return "  ".join(parts)
