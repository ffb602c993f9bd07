"""Progress lines for the root rank: objects done, rate, time left (ETA).

Used by ``prepare``, ``score`` and ``flag``; lines go to the ``rnngmm``
logger (so ``--quiet`` hides them and only rank 0 shows them) unless a
stream is given.
"""

import logging
import time

log = logging.getLogger(__name__)


def format_duration(seconds):
    """``3725`` -> ``"1h02m05s"``; ``"?"`` when unknown."""
    if seconds is None or not seconds == seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{seconds:02d}s"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


class Progress:
    """Emits at most one line every ``interval`` seconds.

    Parameters
    ----------
    total : int
        Objects in the whole job.
    already_done : int
        Objects done before this job started (resumed shards); not counted in
        the rate.
    interval : float
        Minimum seconds between lines.
    stream : file, optional
        Print lines there instead of logging them.
    clock : callable, optional
        Seconds (default ``time.monotonic``); replaceable in tests.
    label : str
        The stage named at the start of each line.
    """

    def __init__(self, total, already_done=0, interval=10.0, stream=None, clock=None,
                 label="flag"):
        self.total = int(total)
        self.already_done = int(already_done)
        self.interval = float(interval)
        self.stream = stream
        self.label = label
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self._last = None

    def line(self, done):
        """The progress text for ``done`` objects in total."""
        elapsed = max(self.clock() - self.start, 1e-9)
        new = max(done - self.already_done, 0)
        rate = new / elapsed
        left = (self.total - done) / rate if rate > 0 else None
        percent = 100.0 * done / self.total if self.total else 100.0
        return (f"{self.label}: {done}/{self.total} objects ({percent:.1f}%), "
                f"{rate:.1f} objects/s, time left {format_duration(left)}")

    def due(self):
        """True when a line would be printed now (``interval`` has passed)."""
        return self._last is None or self.clock() - self._last >= self.interval

    def update(self, done, force=False):
        """Print a line if ``interval`` has passed since the last (or ``force``)."""
        now = self.clock()
        if force or self._last is None or now - self._last >= self.interval:
            self._last = now
            if self.stream is None:
                log.info(self.line(done))
            else:
                print(self.line(done), file=self.stream, flush=True)
