#!/usr/bin/env bash
# Idempotent setup: system packages (when root), virtualenv, TensorFlow,
# horovod built against it, then rnngmm itself. Every step is skipped when
# already done, so `make demo` / `make test` can call this every time.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# Pinned: horovod 0.28.1 compiles only against TF <= 2.18 (2.19+ wheels lack
# headers it needs); on GPU clusters set TF_PACKAGE='tensorflow[and-cuda]==2.18.1'.
TF_PACKAGE=${TF_PACKAGE:-tensorflow-cpu==2.18.1}
# Pinned: the last horovod release; it is source-only, so it is built here.
HOROVOD_PACKAGE=${HOROVOD_PACKAGE:-horovod==0.28.1}

say() { printf '[setup] %s\n' "$*"; }

# 1. System packages: Open MPI for horovod/mpi4py, SLURM+munge for the batch tests.
SYSTEM_PACKAGES="openmpi-bin libopenmpi-dev slurm-wlm munge"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for p in $SYSTEM_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    say "Debian packages present"
  fi
elif ! command -v mpicc >/dev/null; then
  say "not root: load an MPI module first (e.g. 'module load openmpi'); see docs/CLUSTER.md"
fi

# 2. Virtualenv.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip wheel setuptools
fi
PY="$VENV/bin/python"
PIP="$VENV/bin/pip"

# 3. TensorFlow (Keras 3) before horovod, which compiles against it.
if ! "$PY" -c "import tensorflow" >/dev/null 2>&1; then
  say "installing $TF_PACKAGE"
  "$PIP" install -q "$TF_PACKAGE"
else
  say "TensorFlow present"
fi

# 4. horovod against that TensorFlow. Uses the system cmake (pip's cmake 4 breaks gloo).
if ! "$PY" -c "import horovod.tensorflow" >/dev/null 2>&1; then
  say "building $HOROVOD_PACKAGE (5-7 min the first time; pip caches the wheel)"
  HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_MPI=1 HOROVOD_WITH_GLOO=1 \
  HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
    "$PIP" install -q --no-build-isolation "$HOROVOD_PACKAGE"
else
  say "horovod present"
fi

# 5. The package and its test tools (editable, so the checkout is what runs).
stamp="$VENV/.rnngmm-installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  say "installing rnngmm"
  "$PIP" install -q -e ".[test]"
  touch "$stamp"
else
  say "rnngmm installed"
fi
