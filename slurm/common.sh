# slurm/common.sh -- shared by the slurm/*.slurm scripts; users edit env.sh, not this.
#
# Sourced with RNNGMM_HOME set. Provides:
#   rnngmm_launch ARGS...  run `rnngmm ARGS...` on all tasks of the allocation,
#                          forwarding SIGUSR1/SIGTERM sent to the batch shell to
#                          the ranks; returns rnngmm's exit code.
#   rnngmm_train ARGS...   rnngmm_launch train, adding --resume after a requeue,
#                          and requeueing the job itself when training stopped
#                          early on a signal after writing a checkpoint.
#   rnngmm_flag ARGS...    the same for `rnngmm flag` (finished shards are kept).

# Exit code of `rnngmm train` stopped by SIGUSR1/SIGTERM after checkpointing
# (rnngmm/training/signals.py: EXIT_INTERRUPTED, sysexits' EX_TEMPFAIL).
RNNGMM_EXIT_INTERRUPTED=75

_say() { printf '[rnngmm-slurm %s] %s\n' "$(date '+%F %T')" "$*"; }

# shellcheck source=env.sh
source "$RNNGMM_HOME/slurm/env.sh"

if [ -n "${RNNGMM_VENV:-}" ]; then
  if [ ! -f "$RNNGMM_VENV/bin/activate" ]; then
    _say "error: no virtualenv at RNNGMM_VENV=$RNNGMM_VENV (edit slurm/env.sh, or run scripts/setup.sh)" >&2
    exit 2
  fi
  # shellcheck disable=SC1091
  source "$RNNGMM_VENV/bin/activate"
fi
if ! command -v rnngmm >/dev/null; then
  _say "error: 'rnngmm' is not on PATH after sourcing slurm/env.sh" >&2
  exit 2
fi

# Since SLURM 22.05 srun no longer inherits --cpus-per-task from sbatch.
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
fi

_launcher_cmd() {
  case "$RNNGMM_LAUNCHER" in
    srun)
      # shellcheck disable=SC2206
      LAUNCH=(srun $RNNGMM_SRUN_FLAGS) ;;
    mpirun)
      # shellcheck disable=SC2206
      LAUNCH=(mpirun -np "${SLURM_NTASKS:-1}" $RNNGMM_MPIRUN_FLAGS)
      if [ "$(id -u)" = 0 ] && mpirun --version 2>&1 | grep -q "Open MPI"; then
        LAUNCH+=(--allow-run-as-root)
      fi ;;
    none)
      LAUNCH=() ;;
    *)
      _say "error: RNNGMM_LAUNCHER=$RNNGMM_LAUNCHER; use srun, mpirun or none" >&2
      return 2 ;;
  esac
}

_forward_signal() {
  _RNNGMM_SIGNALLED=$1
  _say "batch shell got SIG$1: passing it to the ranks"
  if [ -n "${_RNNGMM_PID:-}" ]; then
    kill -s "$1" "$_RNNGMM_PID" 2>/dev/null || true
  fi
}

rnngmm_launch() {
  _launcher_cmd || return $?
  _say "job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-$(hostname)}, ${SLURM_NTASKS:-1} task(s): ${LAUNCH[*]} rnngmm $*"
  # The launcher runs in the background so that the trap runs while it works:
  # bash delays traps until a foreground command ends. srun and mpirun both
  # pass SIGUSR1/SIGTERM on to the ranks.
  _RNNGMM_SIGNALLED=
  trap '_forward_signal USR1' USR1
  trap '_forward_signal TERM' TERM
  "${LAUNCH[@]}" rnngmm "$@" &
  _RNNGMM_PID=$!
  local rc
  while :; do
    wait "$_RNNGMM_PID"
    rc=$?
    # wait returns early (status > 128) when a trapped signal arrives.
    kill -0 "$_RNNGMM_PID" 2>/dev/null || break
  done
  trap - USR1 TERM
  _RNNGMM_PID=
  _say "rnngmm $1 exited with code $rc"
  return "$rc"
}

# rnngmm_requeue_if_interrupted CODE: when CODE says "stopped early after a
# checkpoint", requeue this job (SLURM reruns the script with
# SLURM_RESTART_COUNT > 0) and return 0; otherwise return CODE.
rnngmm_requeue_if_interrupted() {
  local rc=$1 restarts=${SLURM_RESTART_COUNT:-0}
  [ "$rc" = "$RNNGMM_EXIT_INTERRUPTED" ] || return "$rc"
  if [ "$restarts" -ge "$RNNGMM_MAX_RESTARTS" ]; then
    _say "stopped early, and already restarted $restarts times (RNNGMM_MAX_RESTARTS): not requeueing"
    return "$rc"
  fi
  _say "stopped early after writing a checkpoint: requeueing job $SLURM_JOB_ID to continue"
  if scontrol requeue "$SLURM_JOB_ID"; then
    # SLURM ends this instance now; the job waits in the queue, then reruns
    # this script with the same flags.
    sleep 60
    return 0
  fi
  _say "requeue refused (submitted with --no-requeue?): resubmit with the same flags and --resume"
  return "$rc"
}

# rnngmm_resumable STAGE ARGS...: `rnngmm STAGE ARGS...` for a stage with
# --resume (train, flag). Adds --resume when this is a requeued run, and
# requeues the job when the stage stopped early on the time-limit warning or
# preemption: train exits 75 after its checkpoint; flag keeps its finished
# shards on disk, so a flag run ended by the signal counts as interrupted too.
rnngmm_resumable() {
  local extra=()
  if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || [ -n "${RNNGMM_RESUME:-}" ]; then
    _say "restart ${SLURM_RESTART_COUNT:-0} of this job: continuing where it stopped (--resume)"
    extra=(--resume)
  fi
  local rc=0
  rnngmm_launch "$@" "${extra[@]}" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 2 ] && [ -n "${_RNNGMM_SIGNALLED:-}" ]; then
    rc=$RNNGMM_EXIT_INTERRUPTED
  fi
  rnngmm_requeue_if_interrupted "$rc"
}

rnngmm_train() { rnngmm_resumable train "$@"; }
rnngmm_flag() { rnngmm_resumable flag "$@"; }
