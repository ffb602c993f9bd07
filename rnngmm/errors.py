"""Exceptions shared by every stage.

``BadLightCurve`` is per object: callers catch it, record ``reason`` in the
rejects table or the ``status`` column, and carry on with the next object.
``InputError`` is for bad flags or files that stop a command before it starts.
"""


class RnnGmmError(Exception):
    """Base class of the package's own errors."""


class BadLightCurve(RnnGmmError):
    """One object's light curve cannot be used; ``reason`` is a short phrase.

    Parameters
    ----------
    reason : str
        Short, human-readable reason, e.g. ``"too few points (3 < 20)"``.
    object_id : str, optional
        Id of the offending object, when known where the error is raised.
    """

    def __init__(self, reason, object_id=None):
        self.reason = str(reason)
        self.object_id = object_id
        where = f"object {object_id!r}: " if object_id is not None else ""
        super().__init__(where + self.reason)


class InputError(RnnGmmError):
    """A flag, file or dataset that prevents a command from running at all."""
