"""Graceful stop on SIGTERM / SIGUSR1 (cluster preemption, time limits).

The handler only records the request; the training loop checks it between
batches, agrees on it across ranks (so no rank is left waiting in an
allreduce), writes a checkpoint and exits with :data:`EXIT_INTERRUPTED`.
"""

import signal

#: Exit code of a run stopped by a signal after writing a resumable checkpoint
#: (``EX_TEMPFAIL`` of sysexits.h: "try again later", i.e. ``--resume``).
EXIT_INTERRUPTED = 75

#: Signals that request a graceful stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class StopRequest:
    """Context manager installing the stop handlers; ``requested`` tells if one fired."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.requested = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        return False
