#!/usr/bin/env bash
# Runs the whole test suite in the project's virtualenv. Under CI (CI=true)
# tests that need SLURM/MPI must run: a skip there is turned into a failure
# by the tests themselves.
#
# With --fast as the first argument (`make test-fast`) it runs only the quick
# subset for the edit loop: no test marked slow, mpi or slurm (training, the
# session's tiny trained run, mpirun/horovodrun, the SLURM cluster), and no
# .pytest_cache. Remaining arguments pass through to pytest either way.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PYTHONUNBUFFERED=1
# One thread per TF op pool keeps several test processes from fighting over 2 cores.
export TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-1}
export TF_NUM_INTEROP_THREADS=${TF_NUM_INTEROP_THREADS:-1}
fast=()
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=(-m "not slow and not mpi and not slurm" -p no:cacheprovider)
fi
status=0
"$VENV/bin/python" -m pytest ${fast[@]+"${fast[@]}"} "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: treating as failure" >&2
fi
exit "$status"
