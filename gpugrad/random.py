"""Random state: one seed for every backend, a state that checkpoints can save, and
per-thread generators for work that runs on several threads at once."""
import contextlib
import json

import numpy as np

from .backends.device import _NUMPY, CPU as _NUMPY_CPU


def manual_seed(seed):
    """Seed the generators of every backend (init, ``rand*``, dropout) for reproducibility.

    >>> import gpugrad as gg
    >>> _ = gg.manual_seed(0); a = gg.rand(2).tolist()
    >>> _ = gg.manual_seed(0); a == gg.rand(2).tolist()
    True
    """
    from .backends import device as _dev
    seed = int(seed)
    _NUMPY.seed(seed)
    if _dev._cupy_backend is not None:
        _dev._cupy_backend.seed(seed)
    return seed


def seed():
    """Seed every backend's generator with a fresh non-deterministic number and return it
    (``torch.seed``), so that a run can be reproduced with ``gg.manual_seed(that)``.

    >>> s = gg.seed()
    >>> a = gg.rand(2).tolist()
    >>> _ = gg.manual_seed(s)
    >>> a == gg.rand(2).tolist()
    True
    """
    return manual_seed(int(np.random.SeedSequence().entropy) % 2**63)


def draw_seed():
    """A 63-bit seed from the CPU generator (``gg.manual_seed`` seeds it): what dropout
    draws per call. Inside a ``gg.compile`` trace the draw is recorded, so every replay
    draws its own seed in the same order as eager calls would.

    >>> _ = gg.manual_seed(0); a = draw_seed()
    >>> _ = gg.manual_seed(0); a == draw_seed()
    True
    """
    from .autograd.grad_mode import state
    value = int(_NUMPY.generator(_NUMPY_CPU).integers(0, 2**63, dtype=np.int64))
    if state.tracer is not None:
        state.tracer.seed(value, draw_seed)
    return value


def get_rng_state():
    """The CPU generator's state as a JSON-serialisable dict (for checkpoints).

    >>> state = gg.get_rng_state()
    >>> a = gg.rand(2).tolist()
    >>> gg.set_rng_state(state)
    >>> a == gg.rand(2).tolist()
    True
    """
    return _NUMPY.get_rng_state()


def set_rng_state(state):
    """Restore a state that ``get_rng_state`` returned (a checkpoint's, say).

    >>> state = gg.get_rng_state()
    >>> first = gg.randn(3).tolist()
    >>> gg.set_rng_state(state)
    >>> gg.randn(3).tolist() == first
    True
    """
    _NUMPY.set_rng_state(state)


@contextlib.contextmanager
def thread_generator(seed):
    """Within the block, this thread draws CPU random numbers (init, ``rand*``, dropout)
    from its own generator seeded with ``seed``; other threads are unaffected.

    Data-parallel workers use it so that each replica's dropout masks depend on the seed
    drawn for it, not on which thread reached the shared generator first.

    >>> import gpugrad as gg
    >>> with thread_generator(7):
    ...     a = gg.rand(2).tolist()
    >>> with thread_generator(7):
    ...     a == gg.rand(2).tolist()
    True
    """
    previous = _NUMPY.thread_local.generator
    _NUMPY.thread_local.generator = np.random.default_rng(seed)
    try:
        yield
    finally:
        _NUMPY.thread_local.generator = previous


class Generator:
    """A random number generator of its own, as ``torch.Generator``: pass it as
    ``generator=`` to the random factories (``rand``, ``randn``, ``randint``, ``randperm``,
    ``normal``, ``bernoulli``, ``multinomial``, ``rand_like``, ...), to ``nn.init``'s
    functions and to ``gpugrad.utils.data`` (``random_split``, ``RandomSampler``,
    ``DataLoader``). Drawing from it leaves the global generator (``gg.manual_seed``)
    untouched, and two Generators with the same seed give the same numbers.

    A CPU Generator is NumPy's PCG64; a ``device="cuda"`` one is CuPy's default generator
    on that GPU. The numbers differ from PyTorch's for the same seed (other algorithms).

    >>> g = gg.Generator().manual_seed(42)
    >>> a = gg.rand(3, generator=g)
    >>> bool((a == gg.rand(3, generator=gg.Generator().manual_seed(42))).all())
    True
    >>> g.initial_seed(), g.device
    (42, device('cpu'))
    """

    _DEFAULT_SEED = 67280421310721  # PyTorch's initial seed for a new Generator

    def __init__(self, device="cpu"):
        from .backends.device import backend_for, device as as_device
        self.device = as_device(device)
        self._backend = backend_for(self.device)
        self.manual_seed(self._DEFAULT_SEED)

    def manual_seed(self, seed):
        """Re-seed this generator; returns ``self`` (so ``Generator().manual_seed(0)`` chains).

        >>> gg.Generator().manual_seed(3).initial_seed()
        3
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise RuntimeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self._seed = int(seed) % 2**64  # negative seeds wrap, as PyTorch's
        if self.device.type == "cpu":
            self._rng = np.random.Generator(np.random.PCG64(self._seed))
        else:
            with self._backend.device_context(self.device):
                self._rng = self._backend.xp.random.default_rng(self._seed)
        return self

    def seed(self):
        """Re-seed with a fresh non-deterministic number and return that number.

        >>> g = gg.Generator()
        >>> s = g.seed()
        >>> s == g.initial_seed()
        True
        """
        self.manual_seed(int(np.random.SeedSequence().entropy) % 2**63)
        return self._seed

    def initial_seed(self):
        """The seed this generator was last seeded with.

        >>> gg.Generator().initial_seed()
        67280421310721
        """
        return self._seed

    def get_state(self):
        """The state as a uint8 CPU tensor (bytes of a JSON document), for ``set_state``.

        >>> g = gg.Generator().manual_seed(0)
        >>> state = g.get_state()
        >>> a = gg.randn(2, generator=g)
        >>> b = gg.randn(2, generator=g.set_state(state))
        >>> state.dtype, bool((a == b).all())
        (gpugrad.uint8, True)
        """
        if self.device.type != "cpu":
            raise RuntimeError("get_state: CUDA generators do not support saving their state "
                               "(CuPy's generators do not expose it); re-seed with "
                               "manual_seed instead")
        state = {"seed": self._seed, "bit_generator": self._rng.bit_generator.state}
        payload = json.dumps(state, sort_keys=True).encode()
        from .creation import tensor
        return tensor(np.frombuffer(payload, dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state from ``get_state`` (a uint8 tensor, or its bytes); returns ``self``.

        >>> g = gg.Generator()
        >>> g.set_state(gg.Generator().manual_seed(5).get_state()).initial_seed()
        5
        """
        if self.device.type != "cpu":
            raise RuntimeError("set_state: CUDA generators do not support restoring a state "
                               "(CuPy's generators do not expose it); re-seed with "
                               "manual_seed instead")
        from .tensor import Tensor
        if isinstance(new_state, Tensor):
            if new_state.dtype.name != "uint8":
                raise TypeError(f"set_state: expected a uint8 tensor (from get_state), got "
                                f"{new_state.dtype}")
            new_state = new_state.numpy().tobytes()
        if not isinstance(new_state, (bytes, bytearray)):
            raise TypeError(f"set_state: expected a uint8 tensor from get_state, got "
                            f"{type(new_state).__name__}")
        try:
            state = json.loads(bytes(new_state).decode())
            rng = np.random.Generator(np.random.PCG64())
            rng.bit_generator.state = state["bit_generator"]
            seed = int(state["seed"])
        except (ValueError, KeyError, TypeError) as err:
            raise RuntimeError(f"set_state: not a gpugrad Generator state ({err})") from None
        self._rng, self._seed = rng, seed
        return self

    def __repr__(self):
        return f"<gpugrad.Generator device='{self.device}'>"


def generator_for(generator, device, op, backend=None):
    """The NumPy/CuPy generator to draw from for ``device``: the global one of ``backend``
    (default: the device's) when ``generator`` is None, else that :class:`Generator`'s,
    which must live on ``device`` (PyTorch's RuntimeError otherwise); ``op`` names the
    caller in errors.

    >>> generator_for(None, gg.device("cpu"), "rand") is not None
    True
    """
    from .backends.device import backend_for
    if generator is None:
        return (backend or backend_for(device)).generator(device)
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a gpugrad.Generator, got "
                        f"{type(generator).__name__}")
    if generator.device.type != device.type or (
            device.type != "cpu" and generator.device.index not in (None, device.index)):
        raise RuntimeError(f"{op}: expected a generator on {device}, got one on "
                           f"{generator.device}")
    return generator._rng
