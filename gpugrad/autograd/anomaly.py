"""Anomaly detection: find the op that first produced a NaN or Inf."""
import traceback

from .grad_mode import state


class detect_anomaly:
    """While active, the first op whose forward output or backward gradient holds NaN/Inf
    raises ``FloatingPointError`` naming the op and where it was created.

    >>> import gpugrad as gg
    >>> with gg.autograd.detect_anomaly():
    ...     gg.tensor([1.0]).log().item()
    0.0
    """

    def __enter__(self):
        self._prev = state.anomaly
        state.anomaly = True

    def __exit__(self, *exc):
        state.anomaly = self._prev


def creation_site():
    """The caller's stack outside gpugrad, recorded on nodes while anomaly mode is on."""
    frames = [f for f in traceback.extract_stack()[:-1] if "/gpugrad/" not in f.filename]
    return "".join(traceback.format_list(frames[-3:])) or "<unknown>"


def check_finite(xp, array, what, node):
    """Raise ``FloatingPointError`` if ``array`` (float) holds NaN or Inf."""
    if array is None or array.dtype.kind != "f" or bool(xp.isfinite(array).all()):
        return
    site = getattr(node, "_creation_site", None) or creation_site()
    raise FloatingPointError(
        f"{what} of {type(node).__name__} produced NaN/Inf; the op was created at:\n{site}")
