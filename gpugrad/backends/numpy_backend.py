"""The CPU backend: NumPy arrays, one ``numpy.random.Generator`` (which a thread may
replace with its own, see ``gpugrad.random.thread_generator``)."""
import threading

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    xp = np
    array_type = np.ndarray

    def __init__(self):
        # Read by every op: Python 3.11 reads instance attributes faster than class ones.
        self.xp, self.array_type, self.has_device_context = np, np.ndarray, False
        self._rng = np.random.default_rng()
        self.thread_local = _ThreadGenerator()

    def from_host(self, array, device):
        return np.asarray(array)

    def to_host(self, array):
        return array

    def device_of(self, array):
        from .device import CPU
        return CPU

    def generator(self, device=None):
        return self.thread_local.generator or self._rng

    def seed(self, seed):
        self._rng = np.random.default_rng(seed)

    def get_rng_state(self):
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        self._rng.bit_generator.state = state


class _ThreadGenerator(threading.local):
    generator = None
