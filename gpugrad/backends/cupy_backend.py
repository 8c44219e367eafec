"""The GPU backend: CuPy arrays, one device context and generator per GPU.

Kept thin on purpose: everything generic runs through the shared NumPy/CuPy array API.
"""
from . import checks as _checks
from .base import Backend


class CupyBackend(Backend):
    name = "cupy"
    has_device_context = True

    def __init__(self, cupy):
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.has_device_context = True  # read by every op: faster from the instance
        self._seed = None
        self._generators = {}

    def device_context(self, device):
        return self.xp.cuda.Device(device.index)

    def from_host(self, array, device):
        with self.xp.cuda.Device(device.index):
            return self.xp.asarray(array)

    def to_device(self, array, device):
        """Copy a CuPy array to another GPU. ``ndarray.copy()`` allocates on the *current*
        device even for an array that lives elsewhere (CuPy documents this), whereas
        ``asarray`` would hand back the same array.

        The copy is queued on the destination's current stream, which knows nothing of the
        source's: it first waits for the work queued on the source (the upload or optimizer
        step that wrote the array), and the source's stream then waits for the copy, so a
        later in-place write there cannot overtake the read.
        """
        cuda = self.xp.cuda
        source = array.device.id
        if source == device.index:
            with cuda.Device(source):
                return array.copy()
        with cuda.Device(source):
            source_stream = cuda.get_current_stream()
            written = source_stream.record()
        with cuda.Device(device.index):
            target_stream = cuda.get_current_stream()
            target_stream.wait_event(written)
            out = array.copy()
            copied = target_stream.record()
        source_stream.wait_event(copied)
        return out

    def to_host(self, array):
        # The host waits for the device here anyway: report queued index checks first.
        _checks.raise_pending()
        return self.xp.asnumpy(array)

    def device_of(self, array):
        from .device import device
        return device(f"cuda:{array.device.id}")

    def generator(self, device):
        gen = self._generators.get(device.index)
        if gen is None:
            with self.xp.cuda.Device(device.index):
                seed = None if self._seed is None else self._seed + device.index
                gen = self.xp.random.default_rng(seed)
            self._generators[device.index] = gen
        return gen

    def seed(self, seed):
        # Generators are re-created lazily per device from the new seed.
        self._seed = seed
        self._generators = {}

    def synchronize(self, device=None):
        _checks.raise_pending()
        if device is None:
            self.xp.cuda.runtime.deviceSynchronize()
        else:
            with self.xp.cuda.Device(device.index):
                self.xp.cuda.runtime.deviceSynchronize()
