"""Messages: rank 0 only unless asked, --quiet/--verbose, TF's native lines filtered."""

import io
import logging
import os
import subprocess
import sys

import pytest

from helpers import REPO_ROOT, run_cli_subprocess
from rnngmm import log

PRETRAINED = REPO_ROOT / "pretrained" / "crts8-v1"


@pytest.fixture(autouse=True)
def restore_logger(monkeypatch):
    """Leave the rnngmm logger as an un-configured library finds it (and
    TensorFlow's log level as ``import rnngmm`` set it)."""
    for name in ("TF_CPP_MIN_LOG_LEVEL", "RNNGMM_TF_CPP_MIN_LOG_LEVEL"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])  # restored after the test
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(log, "_show_native", getattr(log, "_show_native", False),
                        raising=False)
    yield
    logger = logging.getLogger("rnngmm")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def emit(**options):
    out, err = io.StringIO(), io.StringIO()
    log.configure(stdout=out, stderr=err, **options)
    logger = logging.getLogger("rnngmm.test")
    logger.info("an info line")
    logger.warning("a warning")
    logger.debug("a debug line")
    return out.getvalue(), err.getvalue()


def test_rank_zero_logs_info_to_stdout_and_warnings_to_stderr():
    out, err = emit(rank=0)
    assert out == "an info line\n" and err == "WARNING: a warning\n"


def test_other_ranks_log_only_warnings_unless_all_ranks():
    out, err = emit(rank=1)
    assert out == "" and "a warning" in err
    out, err = emit(rank=1, all_ranks=True)
    assert out == "[rank 1] an info line\n" and err == "[rank 1] WARNING: a warning\n"


def test_quiet_and_verbose():
    out, err = emit(rank=0, quiet=True)
    assert out == "" and "a warning" in err
    out, _ = emit(rank=0, verbose=True)
    assert "an info line" in out and "a debug line" in out


def test_launcher_rank_from_the_environment(monkeypatch):
    for name in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID",
                 "HOROVOD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert log.launcher_rank() == 0
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert log.launcher_rank() == 3


def test_native_stderr_filter_drops_only_startup_info_lines():
    code = (
        "import os, sys\n"
        "from rnngmm import log\n"
        "log.filter_native_stderr()\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called "
        "are written to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1796150873.854857   12470 service.cc:148] XLA service "
        "initialized\\n')\n"
        "os.write(2, b'E0000 00:00:1796150873.854857   12470 x.cc:1] a native error\\n')\n"
        "print('python message', file=sys.stderr)\n"
        "os.write(2, b'last native line without newline')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "absl" not in done.stderr and "XLA service" not in done.stderr
    assert "a native error" in done.stderr and "python message" in done.stderr
    assert done.stderr.endswith("last native line without newline")


def test_native_stderr_filter_drops_tensorflows_onednn_notices():
    # TensorFlow's own format and absl's; the E line is about speed, not an error
    code = (
        "import os\n"
        "from rnngmm import log\n"
        "log.filter_native_stderr()\n"
        "os.write(2, b'2026-12-06 21:38:57.706170: E tensorflow/core/util/util.cc:131] "
        "oneDNN supports DT_BOOL only on platforms with AVX-512. Falling back to the "
        "default Eigen-based implementation if present.\\n')\n"
        "os.write(2, b'2026-12-06 21:38:57.706170: I tensorflow/core/util/port.cc:153] "
        "oneDNN custom operations are on. You may see slightly different numerical "
        "results\\n')\n"
        "os.write(2, b'E0000 00:00:1796150873.854857   12470 util.cc:131] oneDNN supports "
        "DT_HALF only on platforms with AVX-512.\\n')\n"
        "os.write(2, b'2026-12-06 21:38:57.706170: E tensorflow/core/x.cc:1] a real "
        "error\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    assert "oneDNN" not in done.stderr
    assert done.stderr.endswith("a real error\n")


def test_verbose_undoes_the_quiet_level_but_keeps_the_users(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("RNNGMM_TF_CPP_MIN_LOG_LEVEL", raising=False)
    log.quiet_tensorflow()  # as `import rnngmm` does
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    log.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    log.quiet_tensorflow(verbose=True)  # then the CLI's --verbose
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # the user's own choice stays
    log.quiet_tensorflow(verbose=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    log.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_scoped_filter_gives_stderr_back(monkeypatch):
    code = (
        "import os, sys\n"
        "from rnngmm import log\n"
        "with log.native_stderr_filtered():\n"
        "    os.write(2, b'I0000 00:00:1796150873.854857   12470 service.cc:148] XLA service "
        "initialized\\n')\n"
        "    print('inside', file=sys.stderr)\n"
        "os.write(2, b'I0000 00:00:1796150873.854857   12470 service.cc:148] after\\n')\n")
    env = _fresh_env()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0
    assert done.stderr == ("inside\nI0000 00:00:1796150873.854857   12470 service.cc:148] "
                           "after\n")


#: Native start-up lines that must not reach a user's terminal.
STARTUP_LINES = ("absl::InitializeLog", "XLA service", "StreamExecutor device", "oneDNN",
                 "cpu_feature_guard", "Compiled cluster using XLA")


def _fresh_env():
    """The environment of a user's shell: no level set by an earlier ``import
    rnngmm``; oneDNN on, as on CPUs where it is the default, so its notice would
    show (numerics of these runs do not matter)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNNGMM_TF_CPP_MIN_LOG_LEVEL")}
    env.update(TF_ENABLE_ONEDNN_OPTS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1")
    return env


@pytest.fixture(scope="module")
def two_stars(tmp_path_factory):
    from rnngmm.simulate import simulate_sample, write_sample
    folder = tmp_path_factory.mktemp("two_stars")
    write_sample(simulate_sample(1, 0, seed=5, classes=["RRAB", "ROT"]), str(folder))
    return folder


@pytest.mark.slow
def test_python_api_prints_no_native_startup_lines(two_stars):
    code = (
        "import glob, sys\n"
        "import rnngmm\n"
        "from rnngmm.io.readers import read_lightcurve\n"
        f"run = rnngmm.load_run({str(PRETRAINED)!r})\n"
        f"paths = sorted(glob.glob({str(two_stars / 'lightcurves' / '*.csv')!r}))\n"
        "curves = [read_lightcurve(p, 'asassn', filter='V') for p in paths]\n"
        "table = run.predict(curves)\n"
        "print(list(table['status']))\n"
        "print('done', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=_fresh_env(), cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'ok'" in done.stdout
    assert not [line for line in done.stderr.splitlines()
                if any(text in line for text in STARTUP_LINES)], done.stderr
    assert done.stderr.endswith("done\n")


@pytest.mark.slow
def test_cli_prints_no_native_startup_lines_unless_verbose(two_stars, tmp_path):
    def flag(*extra):
        return run_cli_subprocess(
            "flag", "--run_dir", PRETRAINED, "--catalog", two_stars / "catalog.csv",
            "--lightcurves", two_stars / "lightcurves", "--format", "asassn", "--filter",
            "V", "--output", tmp_path / f"flags{len(extra)}.ecsv", *extra,
            env=_fresh_env(), timeout=300)

    quiet = flag()
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "rnngmm flag: 2 rows, 2 scored" in quiet.stdout
    assert not [line for line in quiet.stderr.splitlines()
                if any(text in line for text in STARTUP_LINES)], quiet.stderr
    verbose = flag("--verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "XLA service" in verbose.stderr and "oneDNN" in verbose.stderr
