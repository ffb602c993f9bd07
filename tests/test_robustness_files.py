"""Issue 7, files: a full disk, a read-only output directory, corrupted or
wrong-version inputs, and ``kill -9`` in the middle of a write.

Disk full and read-only are real: small tmpfs mounts (``mount -t tmpfs``,
needs root). Where mounting is not permitted the test is skipped with the
reason printed, unless ``CI`` is set, where it fails instead.

Guarantees checked:
* disk full / read-only output: exit code 2, one message naming the file or
  directory and the cause, and no output or temporary file left behind (flag
  may leave completed, valid shards in ``OUT.parts/`` for ``--resume``);
* disk full while (re)writing ``model.keras``, ``gmm.h5`` or a checkpoint,
  whether nothing or half the file fits: ``InputError("cannot write 'PATH':
  No space left on device ...")``, no temporary left, and the previous file
  of that name still loads with its old contents;
* corrupted, truncated, foreign or wrong-version dataset, ``model.keras``,
  ``gmm.h5``, ``config.json`` and checkpoints: a message naming the file and
  what is wrong (exit code 2 for the commands);
* ``kill -9`` of prepare at any moment: the output path either does not
  exist or holds a complete dataset; leftovers only ever have ``.tmp`` names.
"""

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from flagging_helpers import flag_args
from helpers import REPO_ROOT, run_cli
from rnngmm.flagging.results import read_shard
from rnngmm.flagging.shards import parts_dir


def _mount(directory, size, read_only=False):
    options = f"size={size}" + (",ro" if read_only else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        reason = f"cannot mount a tmpfs ({result.stderr.strip() or result.returncode})"
        if os.environ.get("CI"):
            pytest.fail(reason + " and CI is set")
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB filesystem (too small for any dataset of the test sample)."""
    directory = tmp_path / "full"
    directory.mkdir()
    _mount(directory, "64k")
    yield directory
    subprocess.run(["umount", str(directory)], check=False)


@pytest.fixture
def read_only_dir(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    _mount(directory, "64k", read_only=True)
    yield directory
    subprocess.run(["umount", str(directory)], check=False)


def run(args, capsys):
    capsys.readouterr()
    try:
        code = run_cli(*args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.err


def prepare_args(sample, output):
    return ("prepare", "--catalog", sample / "catalog.csv", "--lightcurves",
            sample / "lightcurves", "--format", "asassn", "--filter", "V",
            "--label_col", "class", "--period_col", "period", "--output", output)


def listing(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# ---------------------------------------------------------------- disk full


def test_prepare_on_a_full_disk_fails_cleanly(small_sample, small_disk, capsys):
    output = small_disk / "data.h5"
    code, err = run(prepare_args(small_sample, output), capsys)
    assert code == 2, err
    assert "No space left on device" in err and str(output) in err
    assert "Traceback" not in err
    assert listing(small_disk) == [], "a partial file was left on the full disk"


@pytest.mark.slow
def test_flag_on_a_full_disk_fails_cleanly(tiny_run_dir, new_catalog, tmp_path,
                                           capsys):
    disk = tmp_path / "tiny"
    disk.mkdir()
    _mount(disk, "24k")
    try:
        out = disk / "flags.ecsv"
        code, err = run(flag_args(tiny_run_dir, new_catalog, out), capsys)
        assert code == 2, err
        assert "No space left on device" in err and "Traceback" not in err
        assert not out.exists()
        leftovers = listing(disk)
        assert not [p for p in leftovers if p.endswith(".tmp")], leftovers
        # completed shards may stay for --resume, and each must be whole
        parts = parts_dir(str(out))
        n_classes = len(json.loads((tiny_run_dir / "config.json").read_text())["class_names"])
        for name in sorted(os.listdir(parts)) if os.path.isdir(parts) else []:
            if name.startswith("shard-"):
                index = int(name[6:12])
                assert read_shard(os.path.join(parts, name), shard=index, start=index * 10,
                                  stop=index * 10 + 10, n_classes=n_classes) is not None, name
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------- disk full, run files


@pytest.fixture
def disk(tmp_path):
    """A 4 MiB filesystem: room for one of each run file before it is filled."""
    directory = tmp_path / "disk"
    directory.mkdir()
    _mount(directory, "4m")
    yield directory
    subprocess.run(["umount", str(directory)], check=False)


def fill(directory, leave=0):
    """Fill ``directory``'s filesystem with a file ``filler`` until at most
    ``leave`` bytes are free."""
    stat = os.statvfs(directory)
    remaining = stat.f_bavail * stat.f_frsize - leave
    block = bytes(1 << 16)
    handle = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while remaining > 0:
            try:
                remaining -= os.write(handle, block[:min(len(block), remaining)])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(handle)


def _keras_model(seed):
    """A small compiled model with built optimizer state (about 0.4 MB saved)."""
    import keras
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(8)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 64), np.float32), np.zeros((4, 8), np.float32), verbose=0)
    return model


def _weights(model):
    return [np.asarray(v) for v in model.weights]


class ModelFile:
    name = "model.keras"

    def make(self, seed):
        return _keras_model(seed)

    def write(self, thing, path):
        from rnngmm.io.atomic import save_keras_model
        save_keras_model(thing, path)

    def check(self, path, thing):
        import keras
        loaded = keras.saving.load_model(path, compile=False)
        for a, b in zip(_weights(loaded), _weights(thing)):
            np.testing.assert_array_equal(a, b)


class GMMFile:
    name = "gmm.h5"

    def make(self, seed):
        from rnngmm.novelty.mixture import GMMNovelty
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(20000, 3))
        return GMMNovelty().fit(z, rng.dirichlet(np.ones(4), size=len(z)))

    def write(self, thing, path):
        thing.save(path)

    def check(self, path, thing):
        from rnngmm.novelty.mixture import GMMNovelty
        loaded = GMMNovelty.load(path)
        np.testing.assert_array_equal(loaded.mu_, thing.mu_)
        np.testing.assert_array_equal(loaded.train_energy_, thing.train_energy_)


class CheckpointFile:
    name = "ckpt-0001.h5"

    def make(self, seed):
        return _keras_model(seed)

    def write(self, thing, path):
        from rnngmm.training.checkpoint import save_checkpoint
        save_checkpoint(path, thing, {"epoch": 1})

    def check(self, path, thing):
        from rnngmm.training.checkpoint import latest_valid_checkpoint, read_checkpoint
        found = read_checkpoint(path)
        for (_, a), b in zip(found.model_values, _weights(thing)):
            np.testing.assert_array_equal(a, b)
        assert os.path.samefile(latest_valid_checkpoint(os.path.dirname(path)).path, path)


RUN_FILES = {"model": ModelFile(), "gmm": GMMFile(), "checkpoint": CheckpointFile()}


def _assert_disk_full(excinfo, path):
    message = str(excinfo.value)
    assert message.startswith(f"cannot write '{path}': No space left on device"), message


@pytest.mark.slow
@pytest.mark.parametrize("room", ["nothing", "half"])
@pytest.mark.parametrize("kind", sorted(RUN_FILES))
def test_rewriting_a_run_file_on_a_full_disk_keeps_the_previous_one(disk, kind, room):
    from rnngmm.errors import InputError
    writer = RUN_FILES[kind]
    path = disk / writer.name
    first = writer.make(seed=1)
    writer.write(first, path)
    size = path.stat().st_size
    assert size > 64 * 1024, "the file must span many pages for 'half' to mean anything"
    fill(disk, leave=size // 2 if room == "half" else 0)
    with pytest.raises(InputError) as excinfo:
        writer.write(writer.make(seed=2), path)
    _assert_disk_full(excinfo, path)
    assert listing(disk) == sorted(["filler", writer.name]), "a temporary file was left"
    assert path.stat().st_size == size
    writer.check(str(path), first)
    # and once there is room again, the same call succeeds
    os.remove(disk / "filler")
    second = writer.make(seed=2)
    writer.write(second, path)
    writer.check(str(path), second)


@pytest.mark.parametrize("kind", sorted(RUN_FILES))
def test_writing_a_run_file_on_a_full_disk_leaves_nothing(disk, kind):
    from rnngmm.errors import InputError
    writer = RUN_FILES[kind]
    fill(disk)
    path = disk / writer.name
    with pytest.raises(InputError) as excinfo:
        writer.write(writer.make(seed=1), path)
    _assert_disk_full(excinfo, path)
    assert listing(disk) == ["filler"]


# ---------------------------------------------------------------- read-only output


def test_prepare_into_a_read_only_directory(small_sample, read_only_dir, capsys):
    code, err = run(prepare_args(small_sample, read_only_dir / "data.h5"), capsys)
    assert code == 2 and "is not writable" in err and str(read_only_dir) in err, err
    assert listing(read_only_dir) == []


def test_hdf5_flag_table_the_disk_cannot_hold_is_refused_before_writing(small_disk):
    """HDF5 may crash on a full disk, so the streamed HDF5 table checks the
    free space first: a clean InputError naming the file, nothing left."""
    from astropy.table import Table
    from rnngmm.errors import InputError
    from rnngmm.flagging.output import TableWriter, column_widths
    out = small_disk / "flags.h5"
    block = Table({"id": [f"object-{i:06d}" for i in range(2000)],
                   "period": np.linspace(0.1, 10, 2000)})
    with pytest.raises(InputError, match="No space left on device") as error:
        with TableWriter(out, 4 * len(block), widths=column_widths(block, "hdf5")) as writer:
            for _ in range(4):
                writer.write(block)
    assert str(out) in str(error.value)
    assert listing(small_disk) == [], "a partial file was left on the full disk"


@pytest.mark.slow
def test_flag_into_a_read_only_directory(tiny_run_dir, new_catalog, read_only_dir,
                                         capsys):
    code, err = run(flag_args(tiny_run_dir, new_catalog, read_only_dir / "f.ecsv"), capsys)
    assert code == 2 and "is not writable" in err, err
    assert listing(read_only_dir) == []


def test_train_into_a_read_only_log_dir(small_dataset, read_only_dir, capsys):
    code, err = run(("train", "--data", small_dataset, "--config", "tiny", "--n_min", "20",
                     "--nb_epoch", "1", "--gmm_on", "--threads", "1",
                     "--log_dir", read_only_dir, "--run_name", "r"), capsys)
    assert code not in (0, None)
    assert str(read_only_dir) in err and "not a writable directory" in err, err
    assert listing(read_only_dir) == []


# ---------------------------------------------------------------- corrupted inputs


def truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def garbage(path):
    path.write_bytes(b"this is not the file you are looking for\n" * 20)


def set_attr(name, value):
    def change(path):
        with h5py.File(path, "r+") as f:
            f.attrs[name] = value
    return change


RUN_DAMAGE = {
    "truncated model": ("model.keras", truncate, "cannot be loaded"),
    "garbage model": ("model.keras", garbage, "cannot be loaded"),
    "truncated gmm": ("gmm.h5", truncate, "cannot read GMM file"),
    "garbage gmm": ("gmm.h5", garbage, "cannot read GMM file"),
    "future gmm": ("gmm.h5", set_attr("format_version", 99), "unsupported GMM format version 99"),
    "foreign gmm": ("gmm.h5", set_attr("format", "something-else"), "not an rnngmm GMM file"),
    "broken config": ("config.json", truncate, "is not readable JSON"),
    "missing model": ("model.keras", os.remove, "is missing"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUN_DAMAGE))
def test_damaged_run_files_are_named_by_flag(tiny_run_dir, small_dataset, tmp_path,
                                             capsys, name):
    filename, damage, message = RUN_DAMAGE[name]
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir, ignore=shutil.ignore_patterns("tensorboard", "score*"))
    damage(run_dir / filename)
    out = tmp_path / "flags.ecsv"
    code, err = run(("flag", "--run_dir", run_dir, "--data", small_dataset, "--output", out,
                     "--progress_interval", "0"), capsys)
    assert code == 2, err
    assert str(run_dir / filename) in err and message in err, err
    assert not out.exists() and not os.path.exists(parts_dir(str(out)))


@pytest.mark.slow
def test_damaged_run_is_named_by_score(tiny_run_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    # tiny_run_dir is the session's: other modules' score runs leave scoring* folders in it
    shutil.copytree(tiny_run_dir, run_dir,
                    ignore=shutil.ignore_patterns("tensorboard", "score*", "scoring*"))
    truncate(run_dir / "gmm.h5")
    code, err = run(("score", "--run_dir", run_dir, "--no_baselines"), capsys)
    assert code == 2 and str(run_dir / "gmm.h5") in err, err
    assert not (run_dir / "scoring").exists()


DATA_DAMAGE = {
    "truncated": (lambda p: truncate(p, 0.3), "not a readable HDF5 file (truncated or corrupted?)"),
    "garbage": (garbage, "not a readable HDF5 file"),
    "future version": (set_attr("format_version", 2), "has format version 2"),
    "foreign": (set_attr("format", "other"), "is not an rnngmm dataset"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATA_DAMAGE))
@pytest.mark.parametrize("command", ["train", "flag"])
def test_damaged_dataset_is_named(tiny_run_dir, small_dataset, tmp_path, capsys,
                                  name, command):
    damage, message = DATA_DAMAGE[name]
    data = tmp_path / "data.h5"
    shutil.copy(small_dataset, data)
    damage(data)
    if command == "train":
        args = ("train", "--data", data, "--config", "tiny", "--n_min", "20", "--nb_epoch", "1",
                "--gmm_on", "--threads", "1", "--log_dir", tmp_path / "logs")
    else:
        args = ("flag", "--run_dir", tiny_run_dir, "--data", data, "--output",
                tmp_path / "f.ecsv", "--progress_interval", "0")
    code, err = run(args, capsys)
    assert code == 2, err
    assert str(data) in err and message in err, err
    assert not (tmp_path / "logs").exists() and not (tmp_path / "f.ecsv").exists()


@pytest.mark.slow
def test_damaged_checkpoints_are_named_and_skipped(tiny_run_dir, tmp_path):
    from rnngmm.training.checkpoint import latest_valid_checkpoint, list_checkpoints
    source = sorted((tiny_run_dir / "checkpoints").glob("ckpt-*.h5"))
    assert source, "the tiny run wrote no checkpoint"
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    good = directory / "ckpt-0001.h5"
    shutil.copy(source[-1], good)
    for epoch, damage in ((2, set_attr("format_version", 7)), (3, truncate), (4, garbage),
                          (5, set_attr("format", "x"))):
        path = directory / f"ckpt-{epoch:04d}.h5"
        shutil.copy(source[-1], path)
        damage(path)
    warnings = []
    found = latest_valid_checkpoint(directory, warn=warnings.append)
    assert found is not None and os.path.samefile(found.path, good)
    assert len(warnings) == 4 == len(list_checkpoints(directory)) - 1
    text = "\n".join(warnings)
    for epoch in (2, 3, 4, 5):
        assert f"ckpt-{epoch:04d}.h5" in text
    assert "version 7" in text and "not an rnngmm checkpoint" in text


# ---------------------------------------------------------------- kill -9


KILL_SCRIPT = r"""
import sys
from rnngmm.prepare import PrepareConfig, prepare
prepare(PrepareConfig(catalog=sys.argv[1], lightcurves=sys.argv[2], output=sys.argv[3],
                      format="asassn", label_col="class", period_col="period",
                      reader_options={"filter": "V"}), log=lambda *a: None)
"""


@pytest.fixture(scope="module")
def bigger_sample(tmp_path_factory):
    from rnngmm.simulate import simulate_sample, write_sample
    directory = tmp_path_factory.mktemp("bigger_sample")
    write_sample(simulate_sample(25, 10, seed=3, min_points=400, max_points=800), directory)
    return directory


def _check_output(out):
    """The output path is absent or a complete dataset; leftovers are .tmp only."""
    from rnngmm.io.dataset import Dataset
    names = os.listdir(out.parent)
    assert all(n in ("data.h5", "data.rejects.ecsv") or n.endswith(".tmp") for n in names), names
    if out.exists():
        with Dataset(out) as data:
            assert len(data) > 0
            data.lightcurve(len(data) - 1)
    return names


@pytest.mark.slow
def test_kill_9_of_prepare_never_leaves_a_file_taken_for_complete(bigger_sample, tmp_path):
    """Kill prepare once while its temporary dataset file exists (the write
    itself), and at several moments spread over a run."""
    args = [sys.executable, "-c", KILL_SCRIPT, str(bigger_sample / "catalog.csv"),
            str(bigger_sample / "lightcurves")]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    caught_mid_write = False
    for attempt in range(3):
        out_dir = tmp_path / f"mid{attempt}"
        out_dir.mkdir()
        out = out_dir / "data.h5"
        process = subprocess.Popen(args + [str(out)], env=env)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(n.endswith(".tmp") for n in os.listdir(out_dir)):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        process.wait(timeout=60)
        names = _check_output(out)
        if process.returncode == -signal.SIGKILL and any(n.endswith(".tmp") for n in names):
            caught_mid_write = True
            assert not out.exists()
            break
    assert caught_mid_write, "prepare was never caught while writing its output"
    # full duration of one run, then kills spread over it
    start = time.monotonic()
    done = subprocess.run(args + [str(tmp_path / "full.h5")], env=env, timeout=300)
    assert done.returncode == 0
    duration = time.monotonic() - start
    for k, fraction in enumerate((0.3, 0.6, 0.8, 0.9, 0.97)):
        out_dir = tmp_path / f"at{k}"
        out_dir.mkdir()
        process = subprocess.Popen(args + [str(out_dir / "data.h5")], env=env)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=duration * fraction)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        _check_output(out_dir / "data.h5")


#: Seconds within which a 2-rank training job whose rank 0 was killed must end
#: (TensorFlow + horovod start-up on each rank is most of it).
DEAD_TRAINING_RANK_LIMIT = 120


@pytest.mark.slow
@pytest.mark.mpi
def test_kill_9_of_one_training_rank_ends_the_job(tmp_path):
    """rank 0 of a 2-rank horovod training job SIGKILLs itself mid-epoch; the
    other rank must not hang in its allreduce: mpirun exits non-zero, fast."""
    from training_sim import quiet_env, tiny_train_args, write_sim_dataset
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("mpirun not found")
    pytest.importorskip("horovod.tensorflow")
    data = write_sim_dataset(tmp_path / "sim.h5")
    command = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2",
               "-x", "RNNGMM_DEBUG_SIGNAL_AT", sys.executable, "-m", "rnngmm.cli",
               *tiny_train_args(data, tmp_path / "logs", "killed", epochs=500)]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                            env=quiet_env(RNNGMM_DEBUG_SIGNAL_AT="1:1:SIGKILL"),
                            timeout=DEAD_TRAINING_RANK_LIMIT + 120)
    elapsed = time.monotonic() - start
    print(f"2-rank training with rank 0 killed ended after {elapsed:.1f} s "
          f"(exit code {result.returncode})")
    assert result.returncode != 0, result.stdout[-2000:]
    assert elapsed < DEAD_TRAINING_RANK_LIMIT, f"took {elapsed:.0f} s"
    assert not (tmp_path / "logs" / "crts" / "killed" / "model.keras").exists()
