"""Collectives of a training job, over horovod's core TensorFlow ops.

Works the same under ``mpirun`` and ``horovodrun --gloo`` (which has no MPI
communicator), and degrades to identity operations in a single process.
Only ``horovod.tensorflow`` core ops are used: with Keras 3 horovod's Keras
wrappers silently skip gradient averaging (see ``shared/STACK.md``).
"""

import numpy as np


class Collectives:
    """Allreduce / allgather / broadcast for a :class:`rnngmm.dist.Dist`.

    Parameters
    ----------
    dist : rnngmm.dist.Dist
        From :func:`rnngmm.dist.init_horovod`.
    """

    def __init__(self, dist):
        self.dist = dist
        self.active = dist.backend == "horovod" and dist.size > 1
        if self.active:
            import horovod.tensorflow as hvd
            self._hvd = hvd

    def gradient_hook(self, gradients):
        """Average gradients over ranks (assign to ``model.gradient_hook``)."""
        if not self.active:
            return gradients
        hvd = self._hvd
        return [None if g is None else hvd.allreduce(g, op=hvd.Average)
                for g in gradients]

    def broadcast_variables(self, variables):
        """Give every rank rank 0's values of ``variables``."""
        if not self.active:
            return
        for variable in variables:
            variable.assign(self._hvd.broadcast(variable.value, root_rank=0))

    def allreduce_sum(self, array):
        """Element-wise sum over ranks of a numpy array (float64)."""
        array = np.asarray(array, dtype=np.float64)
        if not self.active:
            return array
        import tensorflow as tf
        return self._hvd.allreduce(tf.constant(array), op=self._hvd.Sum).numpy()

    def allgather(self, array):
        """Concatenate every rank's array along axis 0 (in rank order)."""
        array = np.asarray(array)
        if not self.active:
            return array
        import tensorflow as tf
        return self._hvd.allgather(tf.constant(array)).numpy()

    def allgather_object_list(self, items, encode, decode):
        """Concatenate per-rank lists of small records through ``allgather``.

        ``encode(items) -> ndarray`` and ``decode(ndarray) -> list`` convert the
        records to and from a 1-D uint8 array (e.g. UTF-8 JSON lines).
        """
        if not self.active:
            return list(items)
        payload = np.frombuffer(encode(items), dtype=np.uint8)
        lengths = self.allgather(np.array([len(payload)], np.int64))
        gathered = self.allgather(payload)
        out, start = [], 0
        for length in lengths:
            out.extend(decode(gathered[start:start + length].tobytes()))
            start += length
        return out

    def any(self, flag):
        """True on every rank if ``flag`` is true on any rank."""
        if not self.active:
            return bool(flag)
        return bool(self.allreduce_sum(np.array([1.0 if flag else 0.0]))[0] > 0)

    def broadcast_value(self, value):
        """Rank 0's float/int ``value`` on every rank."""
        if not self.active:
            return value
        import tensorflow as tf
        out = self._hvd.broadcast(tf.constant(np.float64(value)), root_rank=0).numpy()
        return type(value)(out)

    def broadcast_json(self, obj):
        """Rank 0's JSON-serialisable ``obj`` on every rank."""
        if not self.active:
            return obj
        import json
        import tensorflow as tf
        payload = np.frombuffer(json.dumps(obj).encode("utf-8"), dtype=np.uint8)
        if not self.dist.is_root:
            payload = np.zeros(0, np.uint8)
        length = int(self._hvd.broadcast(tf.constant([len(payload)], tf.int64),
                                         root_rank=0).numpy()[0])
        if not self.dist.is_root:
            payload = np.zeros(length, np.uint8)
        data = self._hvd.broadcast(tf.constant(payload), root_rank=0).numpy()
        return json.loads(data.tobytes().decode("utf-8"))
