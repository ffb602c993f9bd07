"""Run a generator in a background thread, a bounded number of items ahead.

``flag`` prepares the next batches of objects (read, clean, period, chunk;
numpy and file I/O) in a reader thread while the main thread scores the
current batch (TensorFlow, which releases the GIL while it computes). The
queue between them is bounded, so memory stays at ``depth`` + 2 batches.
"""

import queue
import threading

_END = object()


class _Failure:
    """An exception raised in the reader thread, re-raised in the consumer."""

    def __init__(self, exc):
        self.exc = exc


class Prefetch:
    """Iterate over ``make()``'s items, produced ``depth`` items ahead in a thread.

    Use as a context manager (or call :meth:`close`): leaving it early stops
    the thread after the item it is producing. An exception in the thread is
    re-raised by the consumer at the point where that item was due.

    Parameters
    ----------
    make : callable
        Returns the iterator to run in the thread (created there).
    depth : int
        Items held ready in the queue (at least 1).
    name : str
        Thread name (shows in debuggers and ``py-spy``).
    """

    def __init__(self, make, depth=2, name="rnngmm-reader"):
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make,), name=name,
                                        daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make):
        try:
            for item in make():
                if not self._put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(_Failure(exc))
            return
        self._put(_END)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def close(self):
        """Stop the thread (after its current item) and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
