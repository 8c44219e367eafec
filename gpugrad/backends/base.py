"""The interface every array backend implements."""
import contextlib


class Backend:
    """An array library (its module ``xp``) plus what the generic ops cannot say in ``xp``.

    Subclasses fill in device contexts, transfers and random numbers.
    """

    name = "abstract"
    xp = None
    #: The array class ops must return (0-d results are converted back from scalars).
    array_type = None
    #: False for backends whose device context is a no-op, so the hot path can skip it.
    has_device_context = False

    def __reduce__(self):
        # One backend object per array library: copies resolve to the live one.
        from .device import CPU, backend_for
        return backend_for, (CPU if self.name == "numpy" else _first_gpu(),)

    def __deepcopy__(self, memo):
        return self

    def device_context(self, device):
        """Context manager making ``device`` current while an op runs (a no-op on CPU)."""
        return contextlib.nullcontext()

    def from_host(self, array, device):
        """Copy a NumPy array onto ``device``."""
        raise NotImplementedError

    def to_host(self, array):
        """Copy an array of this backend to a NumPy array."""
        raise NotImplementedError

    def device_of(self, array):
        """The ``Device`` an array of this backend lives on."""
        raise NotImplementedError

    def generator(self, device):
        """The random generator used for ``device`` (seeded by ``gg.manual_seed``)."""
        raise NotImplementedError

    def synchronize(self, device=None):
        """Wait for queued work on ``device`` (a no-op on CPU)."""


def _first_gpu():
    from .device import device
    return device("cuda:0")
