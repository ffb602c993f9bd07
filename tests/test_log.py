"""Messages: rank 0 only unless asked, --quiet/--verbose, TF's native lines filtered."""

import io
import logging
import subprocess
import sys

import pytest

from rnngmm import log


@pytest.fixture(autouse=True)
def restore_logger():
    """Leave the rnngmm logger as an un-configured library finds it."""
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
