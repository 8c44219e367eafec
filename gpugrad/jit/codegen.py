"""A plan as one straight-line Python function: slots become local variables.

A replayed op then costs one call of its ``forward`` and nothing else: no loop, no list
indexing, no dispatch on instruction kinds. The source is kept (``Plan.source``) so a plan
can be read.
"""
import functools
import re

from ..tensor import Tensor
from .instructions import (ARG, CALL, HOST, LEAF, LOAD, NODE, OP, SEED, SETGRAD, VIEW,
                           GuardFailed)


def generate(plan):
    """``(function, source)``: ``function(args)`` replays ``plan`` on the flat tensor
    arguments ``args`` and returns (output slots' arrays, {host output index: value})."""
    names = {}  # global name -> object
    lines = ["def replay(args):", "    hosts = {}"]
    lines += ["    " + line for line in const_lines(plan, names)]
    lines += ["    " + line for line in body(plan, range(len(plan.code)), names)]
    outs = [f"s{o[1]}" for o in plan.outputs if o[0] == "slot"]
    lines.append(f"    return ({''.join(o + ', ' for o in outs)}), hosts")
    return build(lines, names, "replay")


def const_lines(plan, names):
    lines = []
    for s, array, written in plan.consts:
        names[f"K{s}"] = array
        lines.append(f"s{s} = K{s}.copy()" if written else f"s{s} = K{s}")
    return lines


def body(plan, indices, names, frees=True, code=None):
    """The source lines of instructions ``indices`` of ``code`` (default: the plan's), each
    followed by its ``del`` of slots nobody reads later unless ``frees`` is False."""
    code = plan.code if code is None else code
    lines = []
    for i in indices:
        ins = code[i]
        lines.extend(_lines(i, ins, names, plan))
        if frees and ins[-1]:
            lines.append("del " + ", ".join(f"s{s}" for s in ins[-1]))
    return lines


def build(lines, names, name):
    """Compile the function ``name`` of ``lines``; ``(function, source)``."""
    source = "\n".join(lines) + "\n"
    scope = dict(names)
    exec(compile(source, "<gg.compile plan>", "exec"), scope)  # noqa: S102  (our own text)
    return scope[name], source


def on_dict(lines):
    """``lines`` with each slot variable ``sN`` read from and written to the dict ``S``
    (``del sN`` drops the entry): how a CUDA-graph replay passes slots between its parts."""
    return [_SLOT.sub(r"S[\1]", line) for line in lines]


_SLOT = re.compile(r"\bs(\d+)\b")


def _lines(i, ins, names, plan):
    kind = ins[0]
    if kind == OP:
        return _op_lines(i, ins, names, plan.buffers.get(i))
    if kind == LOAD:
        if ins[2] is None:
            return []  # a constant, bound up front
        names[f"T{i}"] = ins[2]
        return [f"s{ins[1]} = T{i}._data"]
    if kind == ARG:
        return [f"s{ins[1]} = args[{ins[2]}]._data"]
    if kind == NODE:
        names[f"N{i}"] = _node_runner(ins)
        outs = [f"s{s}" if s is not None else "_" for s in ins[4]]
        saved = "".join(f"s{s}, " for s in ins[5])
        return [f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = N{i}(s{ins[3]}, "
                f"({saved}))"]
    if kind == LEAF:
        names[f"L{i}"] = _leaf_runner(ins)
        target = f"s{ins[4]}" if ins[4] is not None else "_"
        return [f"{target} = L{i}(s{ins[2]})"]
    if kind == CALL:
        names[f"C{i}"], names[f"A{i}"], names[f"W{i}"] = ins[1], ins[2], ins[3]
        if ins[4] is None:
            return [f"C{i}(*A{i}, **W{i})"]
        return [f"s{ins[4]} = C{i}(*A{i}, **W{i})._data"]
    if kind == SETGRAD:
        names[f"G{i}"] = ins[1]
        if ins[2] is None:
            return [f"G{i}.grad = None"]
        names[f"W{i}"] = functools.partial(Tensor._wrap, backend=ins[3], device=ins[4])
        return [f"G{i}.grad = W{i}(s{ins[2]})"]
    if kind == VIEW:
        return [f"s{ins[3]} = s{ins[1]}.reshape({ins[2]!r})"]
    if kind == SEED:
        names[f"H{i}"], names[f"D{i}"] = ins[1], ins[2]
        return [f"H{i}.value = D{i}()"]
    if kind == HOST:
        names[f"R{i}"] = _host_runner(i, ins, ins[4] in plan.host_outputs)
        return [f"hosts[{ins[4]}] = R{i}(s{ins[1]})"]
    raise TypeError(f"unknown instruction {kind}")


def _op_lines(i, ins, names, buffer=None):
    """An op's forward call; with ``buffer`` ((writer, array), see ``buffers``) the writer
    computes it into the plan's array."""
    _, forward, ctx, in_slots, params, bound, out, attrs, xp, array_type, zero_d, _, _ = ins
    names[f"F{i}"], names[f"X{i}"], names[f"M{i}"] = forward, ctx, xp
    lines = []
    for name, template in bound:
        lines.append(f"P{i}[{name!r}] = {_expression(template, f'B{i}_{name}', names)}")
    call = f"F{i}(X{i}, M{i}{''.join(f', s{s}' for s in in_slots)}"
    if buffer is not None:
        names[f"F{i}"], names[f"O{i}"] = buffer
        call = f"F{i}(X{i}, M{i}, O{i}{''.join(f', s{s}' for s in in_slots)}"
    if params or bound:
        names[f"P{i}"] = params
        call += f", **P{i}"
    lines.append(f"s{out} = {call})")
    if zero_d:  # NumPy turns 0-d results into scalars
        names[f"Y{i}"] = array_type
        lines.append(f"if s{out}.__class__ is not Y{i}: s{out} = M{i}.asarray(s{out})")
    for (attr, k), s in attrs:
        if k is None:
            lines.append(f"s{s} = getattr(X{i}.{attr}, '_data', X{i}.{attr})")
        else:
            lines.append(f"s{s} = X{i}.{attr}[{k}]")
    return lines


def _expression(template, name, names):
    """Python source that builds a parameter from its template on replay."""
    kind = template[0]
    if kind == "slot":
        return f"s{template[1]}"
    if kind == "attr":
        names[name] = template[1]
        return f"{name}.{template[2]}"
    if kind == "const":
        names[name] = template[1]
        return name
    items = [_expression(t, f"{name}_{k}", names) for k, t in enumerate(template[2])]
    body = ", ".join(items) + ("," if len(items) == 1 else "")
    return f"[{body}]" if template[1] is list else f"({body})"


def _node_runner(ins):
    """A backward formula on the replayed context: arrays in, arrays out."""
    _, backward, ctx, _, outs, _, edges, shapes, backend, device, _ = ins

    def run(grad, saved):
        kept = []
        for array in saved:
            t = Tensor._wrap(array, backend, device)
            t._version = [0]
            kept.append(t)
        ctx._saved, ctx._versions = kept, (0,) * len(kept)
        ctx.next, ctx.input_shapes = edges, shapes
        grads = backward(ctx, Tensor._wrap(grad, backend, device))
        ctx._saved = None
        if not isinstance(grads, tuple):
            grads = (grads,)
        return tuple(None if g is None else g._data for g in grads)
    return run


def _leaf_runner(ins):
    _, tensor, _, shared, _, backend, device, _ = ins

    def run(grad):
        tensor._accumulate_grad(Tensor._wrap(grad, backend, device), shared=shared)
        return tensor.grad._data
    return run


def _host_runner(i, ins, returned):
    _, _, kind, traced, _, _ = ins

    def run(array):
        value = _read_host(array, kind)
        if not returned and not _same_value(value, traced):
            raise GuardFailed(i, f"a value read with .{kind}() was {traced!r} when traced "
                                 f"and is {value!r} now")
        return value
    return run


def _read_host(array, kind):
    if kind == "numpy":
        return array
    from ..backends.device import backend_of_array
    host = backend_of_array(array)[0].to_host(array)
    return host.reshape(()).item() if kind == "item" else host.tolist()


def _same_value(a, b):
    if hasattr(a, "shape"):
        from .plan import _equal_arrays
        return _equal_arrays(a, b)
    return a == b
