"""``gg.compile``: trace a training step once, then replay it without autograd's Python.

See ``compile`` for what is traced, what is guarded and what runs eagerly.
"""
from .function import CompiledFunction

__all__ = ["compile", "CompiledFunction"]


def compile(model=None, *, fullgraph=False, dynamic=None, mode=None, disable=False,
            retrace=True, cuda_graphs=None):
    """Compile ``model`` (a function or a module): the first two calls with given input
    shapes, dtypes, devices and module modes run eagerly and are recorded as array-level
    schedules (every forward op, every backward op, the optimizer's update, in order); later
    calls replay that schedule on raw arrays, with no Tensor or graph bookkeeping, dropping
    each buffer after its last use.

    * Guards: a call with other argument shapes/dtypes/devices/``requires_grad``, other
      non-tensor arguments, another grad or autocast mode, or another ``training`` flag or
      hooks on a module the step called is traced anew (``retrace=False``: raises).
    * A value read from a tensor (``.item()``, ``.tolist()``, ``.numpy()``, ``bool(t)``) is
      read again on replay: returned, it is the new value; otherwise the step branched on it,
      and a changed value runs that call eagerly (after three such calls, always).
    * Dropout draws fresh numbers on every replay from the same generators: under
      ``gg.manual_seed`` a compiled run equals an eager run bit for bit.
    * What cannot be replayed runs eagerly, with a ``RuntimeWarning`` that says why
      (``fullgraph=True``: raises): arrays made from host data outside gpugrad's ops that
      change between calls, Python control flow that differs between the two traced calls,
      hooks, ``create_graph=True``, a returned tensor that needs a graph (a forward-only
      compile of a training model; compile the whole step instead).
    * Python side effects of the step itself (appending to a list, a counter) happen only
      in the traced calls; optimizer and LR-scheduler ``step``/``zero_grad`` calls are
      recorded and run on every replay.

    * On CuPy, the replay's device work is captured once into a CUDA graph and relaunched
      (``cuda_graphs=False``, or ``mode="max-autotune-no-cudagraphs"``: no graph); see
      docs/compile.md for what a graph changes.

    ``dynamic=True`` is not supported (each shape gets its own plan); ``mode`` takes
    PyTorch's names (``"default"``, ``"lite"``, ``"reduce-overhead"``, ``"max-autotune"``,
    ``"max-autotune-no-cudagraphs"``; another raises ``RuntimeError``, as in PyTorch); ``disable=True`` returns ``model`` as it is. Usable
    as a decorator, with or without arguments.

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.ones(3))
    >>> opt = gg.optim.SGD([w], lr=0.1)
    >>> @gg.compile
    ... def step(x):
    ...     opt.zero_grad()
    ...     loss = ((w * x).sum() - 1.0) ** 2
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> losses = [round(step(gg.ones(3)).item(), 4) for _ in range(4)]  # traced, traced, replayed
    >>> losses
    [4.0, 0.64, 0.1024, 0.0164]
    >>> step.stats["replay"]
    1
    """
    if dynamic:
        raise ValueError("compile: dynamic=True is not supported; each input shape is "
                         "traced and replayed on its own")
    if mode not in _MODES:
        raise RuntimeError(f"compile: unrecognized mode={mode!r}; expected one of "
                           f"{', '.join(repr(m) for m in _MODES[1:])}")  # PyTorch's type
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, mode=mode,
                                  disable=disable, retrace=retrace, cuda_graphs=cuda_graphs)
    if disable:
        return model
    if cuda_graphs is None:
        cuda_graphs = mode != "max-autotune-no-cudagraphs"
    return CompiledFunction(model, fullgraph=fullgraph, retrace=retrace,
                            cuda_graphs=cuda_graphs)


_MODES = (None, "default", "lite", "reduce-overhead", "max-autotune",
          "max-autotune-no-cudagraphs")
