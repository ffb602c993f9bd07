"""A real one-node SLURM cluster on this machine, for tests of ``slurm/``.

Everything lives in one temporary directory: ``slurm.conf``, a private munge
key and socket, the controller's state, the node's spool, logs and pid files.
Ports are chosen free at start, so the cluster never touches a system-wide
SLURM or munge installation and two test sessions do not collide. Daemons are
stopped by their pid files.

Requirements: Linux, root (``slurmd`` launches jobs as their user, and
``munged`` must run as user ``munge``), and the Debian packages ``slurm-wlm``
and ``munge`` (``scripts/setup.sh`` installs them when run as root).

Usage::

    cluster = SlurmCluster()
    cluster.start()
    try:
        cluster.run(["sbatch", "--wait", "job.slurm"])
    finally:
        cluster.stop()
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: Programs the cluster needs; their absence is a reason to skip.
PROGRAMS = ("slurmctld", "slurmd", "munged", "mungekey", "sbatch", "sinfo",
            "scontrol", "squeue", "scancel", "srun")


def unavailable_reason():
    """Why a SLURM cluster cannot run here, or None when it can."""
    if not hasattr(os, "geteuid"):
        return "SLURM tests need a POSIX system"
    if os.geteuid() != 0:
        return ("SLURM tests need root (slurmd starts jobs, munged runs as user "
                "munge); run the tests as root or in CI")
    missing = [p for p in PROGRAMS if _which(p) is None]
    if missing:
        return ("SLURM/munge programs not found: " + ", ".join(missing)
                + " (install the Debian packages slurm-wlm and munge, e.g. "
                "by running scripts/setup.sh as root)")
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user on this machine (install the munge package)"
    return None


def _which(program):
    # slurmctld/slurmd/munged live in sbin, which is not always on a user's PATH.
    extra = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/local/sbin"])
    return shutil.which(program, path=os.environ.get("PATH", "") + os.pathsep + extra)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb():
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("cannot read MemTotal from /proc/meminfo")


def _read_pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


class SlurmError(RuntimeError):
    """The cluster did not come up (the message carries the daemons' logs)."""


class SlurmCluster:
    """Start and stop slurmctld + slurmd + munged on this host.

    Parameters
    ----------
    root : path, optional
        Directory for configuration, state, logs and pid files; a fresh
        temporary directory when omitted (removed again by :meth:`stop`).
    partition : str
        Name of the single (default) partition.
    """

    def __init__(self, root=None, partition="debug"):
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="rnngmm-slurm-"))
        self.partition = partition
        self.hostname = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.munge_dir = self.root / "munge"
        self.munge_socket = self.munge_dir / "munge.socket"
        self.log_dir = self.root / "log"
        self.pid_files = {
            "slurmd": self.root / "slurmd.pid",
            "slurmctld": self.root / "slurmctld.pid",
            "munged": self.munge_dir / "munged.pid",
        }
        self.started = False

    # ------------------------------------------------------------------ config
    @property
    def env(self):
        """Environment for client commands (``sbatch``, ``sinfo``...)."""
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = env.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin"
        # Options a user's shell may carry would change what the tests submit.
        for key in list(env):
            if key.startswith(("SBATCH_", "SLURM_", "SALLOC_", "SRUN_")) and key != "SLURM_CONF":
                del env[key]
        return env

    def _write_config(self):
        cpus = os.cpu_count() or 1
        # Below the machine's memory, or slurmd reports the node as invalid.
        memory = max(256, int(_memory_mb() * 0.8))
        ctld_port, slurmd_port = _free_port(), _free_port()
        while slurmd_port == ctld_port:
            slurmd_port = _free_port()
        state = self.root / "state"
        spool = self.root / "spool"
        for d in (state, spool, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Written by tests/slurm_cluster.py for one test session.",
            "ClusterName=rnngmmtest",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "JobRequeue=1",
            "ReturnToService=2",
            # Seconds between SIGTERM and SIGKILL when a job ends early.
            "KillWait=10",
            "MinJobAge=600",
            "InactiveLimit=0",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            f"StateSaveLocation={state}",
            f"SlurmdSpoolDir={spool}",
            f"SlurmctldPidFile={self.pid_files['slurmctld']}",
            f"SlurmdPidFile={self.pid_files['slurmd']}",
            f"SlurmctldLogFile={self.log_dir / 'slurmctld.log'}",
            f"SlurmdLogFile={self.log_dir / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            f"NodeName={self.hostname} NodeAddr=127.0.0.1 CPUs={cpus} "
            f"RealMemory={memory} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.hostname} Default=YES "
            "MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------------ munge
    def _start_munge(self):
        munge = pwd.getpwnam("munge")
        # munged refuses group/world-writable directories on its paths; the
        # temp root must still be traversable by user munge.
        os.chmod(self.root, 0o755)
        # The socket's directory must be searchable by everyone (clients).
        self.munge_dir.mkdir(exist_ok=True)
        os.chmod(self.munge_dir, 0o755)
        os.chown(self.munge_dir, munge.pw_uid, munge.pw_gid)
        key = self.munge_dir / "munge.key"
        if not key.exists():
            subprocess.run(["mungekey", "-c", "-k", str(key)], check=True,
                           env=self.env, capture_output=True)
        os.chown(key, munge.pw_uid, munge.pw_gid)
        os.chmod(key, 0o600)
        cmd = [_which("munged"), f"--socket={self.munge_socket}", f"--key-file={key}",
               f"--pid-file={self.pid_files['munged']}",
               f"--log-file={self.munge_dir / 'munged.log'}",
               f"--seed-file={self.munge_dir / 'munged.seed'}"]
        # munged forks into the background and writes its pid file.
        result = subprocess.run(cmd, user=munge.pw_uid, group=munge.pw_gid,
                                extra_groups=[], capture_output=True, text=True,
                                env=self.env, cwd=self.munge_dir)
        if result.returncode != 0:
            raise SlurmError(f"munged failed: {result.stderr}{self._log('munged')}")
        self._wait_for(lambda: self.munge_socket.exists(), 20, "munged socket")

    # ------------------------------------------------------------------ daemons
    def start(self, timeout=90):
        """Write the configuration, start munged, slurmctld and slurmd, and
        wait until the node is idle. On failure everything started is stopped."""
        try:
            self._write_config()
            self._start_munge()
            # -c: ignore any saved state; -i would too, but state is fresh anyway.
            self._daemon([_which("slurmctld"), "-c", "-f", str(self.conf)])
            self._wait_for(lambda: self.run(["scontrol", "ping"], check=False)
                           .stdout.count("UP") > 0, timeout, "slurmctld")
            self._daemon([_which("slurmd"), "-f", str(self.conf), "-N", self.hostname])
            self._wait_for(self._node_idle, timeout, "node idle in sinfo")
            self.started = True
        except BaseException:
            self.stop()
            raise
        return self

    def _daemon(self, cmd):
        # Both daemons fork into the background and write their pid files.
        result = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                                cwd=self.root)
        if result.returncode != 0:
            raise SlurmError(f"{' '.join(cmd)} failed ({result.returncode}): "
                             f"{result.stderr}{self.logs()}")

    def _node_idle(self):
        out = self.run(["sinfo", "-h", "-N", "-o", "%T"], check=False).stdout.split()
        return out == ["idle"]

    def _wait_for(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        raise SlurmError(f"timed out after {timeout}s waiting for {what}{self.logs()}")

    def _log(self, name):
        path = {"munged": self.munge_dir / "munged.log"}.get(name, self.log_dir / f"{name}.log")
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return f"\n--- {path} (tail) ---\n" + "\n".join(text.splitlines()[-30:])

    def logs(self):
        """Tails of the daemons' log files, for error messages."""
        return "".join(self._log(n) for n in ("slurmctld", "slurmd", "munged"))

    def cancel_all(self, timeout=60):
        """Cancel every job and wait until the queue is empty, so no job step
        outlives slurmd (slurmstepd processes would otherwise keep running)."""
        try:
            jobs = self.run(["squeue", "-h", "-o", "%A"], check=False, timeout=30).stdout.split()
            if not jobs:
                return
            self.run(["scancel", "--full", *jobs], check=False, timeout=30)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                left = self.run(["squeue", "-h", "-o", "%A"], check=False, timeout=30).stdout
                if not left.split():
                    return
                time.sleep(1)
        except (OSError, subprocess.SubprocessError):
            pass

    def stop(self, timeout=20):
        """Cancel remaining jobs, then stop slurmd, slurmctld and munged by pid
        file (SIGTERM, then SIGKILL).

        Safe to call more than once and after a failed :meth:`start`."""
        if _read_pid(self.pid_files["slurmctld"]) is not None:
            self.cancel_all()
        for name in ("slurmd", "slurmctld", "munged"):
            pid = _read_pid(self.pid_files[name])
            if pid is None or not _alive(pid):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False
        if self._own_root and not os.environ.get("RNNGMM_KEEP_SLURM_DIR"):
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ clients
    def run(self, cmd, check=True, timeout=600, **kwargs):
        """Run a SLURM client command against this cluster; text output."""
        kwargs.setdefault("env", self.env)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                **kwargs)
        if check and result.returncode != 0:
            raise SlurmError(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
        return result

    def job_state(self, job_id):
        """State of a job as ``scontrol show job`` reports it (e.g. RUNNING)."""
        out = self.run(["scontrol", "show", "job", str(job_id)], check=False).stdout
        for token in out.split():
            if token.startswith("JobState="):
                return token.split("=", 1)[1]
        return None

    def job_field(self, job_id, field):
        """One ``Key=value`` field of ``scontrol show job``."""
        out = self.run(["scontrol", "show", "job", str(job_id)], check=False).stdout
        for token in out.split():
            if token.startswith(field + "="):
                return token.split("=", 1)[1]
        return None
