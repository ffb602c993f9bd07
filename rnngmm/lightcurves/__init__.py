"""The one object path: a raw light curve -> network input, for every stage.

:mod:`.preprocess` holds the pure numpy primitives (clean, fold, chunk,
standardise), :mod:`.periods` the period search, and :mod:`.objects` composes
them (``Preprocessing``, ``Chunking``, ``prepare_object``, ``object_chunks``).
prepare, train, score, flag and the Python API all call :mod:`.objects`;
nothing re-does it. No TensorFlow here.
"""
