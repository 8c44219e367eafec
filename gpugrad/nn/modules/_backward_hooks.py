"""Module backward hooks (``register_full_backward_hook`` / ``_pre_hook``).

The engine's nodes have one output each, but a full backward hook needs all of a module's
input gradients at once, and a pre-hook all of its output gradients. So the tensors that
require grad on each side are packed into one flat tensor by a ``_Pack`` node and sliced
back out: the engine sums every slice's gradient into the node's one gradient before it runs
``_Pack.backward``, which splits it, calls the hooks and returns one gradient per tensor.
"""
from ...autograd.function import Function
from ...creation import zeros_like
from ...ops.join import cat
from ...tensor import Tensor


class _Pack(Function):
    """The flattened inputs, concatenated; backward hands the pieces to ``on_grads``."""

    @staticmethod
    def forward(ctx, xp, *arrays, on_grads):
        ctx.on_grads = on_grads
        return xp.concatenate([a.reshape(-1) for a in arrays])

    @staticmethod
    def backward(ctx, g):
        pieces, start = [], 0
        for shape in ctx.input_shapes:
            size = 1
            for n in shape:
                size *= n
            pieces.append(g[start:start + size].reshape(shape))
            start += size
        return tuple(ctx.on_grads(tuple(pieces)))

    @staticmethod
    def jvp(ctx, *tangents):
        parts = [(zeros_like(x) if t is None else t).reshape(-1)
                 for x, t in zip(ctx.inputs, tangents)]
        return cat(parts)


def _pack(tensors, on_grads):
    """``tensors`` routed through one ``_Pack`` node (same values, new graph nodes)."""
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise RuntimeError(f"full backward hooks need the module's tensors that require "
                           f"grad to share one dtype, got {sorted(map(str, dtypes))}")
    flat = _Pack.apply(*tensors, on_grads=on_grads)
    out, start = [], 0
    for t in tensors:
        out.append(flat[start:start + t.numel()].reshape(t.shape))
        start += t.numel()
    return out


def _check_grads(name, new, old):
    new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
    if len(new) != len(old):
        raise RuntimeError(f"{name} returned {len(new)} gradients, expected {len(old)}")
    return new


def call_with_backward_hooks(module, forward, args, kwargs):
    """``forward(*args, **kwargs)`` with ``module``'s backward (pre-)hooks attached."""
    hooks = [h for h, _ in module.__dict__.get("_backward_hooks", {}).values()]
    pre_hooks = [h for h, _ in module.__dict__.get("_backward_pre_hooks", {}).values()]
    seen = {"grad_output": None}
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    n_inputs = sum(isinstance(a, Tensor) for a in args)
    tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

    def on_input_grads(grads):
        grad_input = [None] * n_inputs
        for pos, g in zip(positions, grads):
            grad_input[tensor_slots.index(pos)] = g
        grad_input = tuple(grad_input)
        for hook in hooks:
            result = hook(module, grad_input, seen["grad_output"])
            if result is not None:
                grad_input = _check_grads("backward hook", result, grad_input)
        return [grad_input[tensor_slots.index(pos)] for pos in positions]

    if positions and hooks:
        args = list(args)
        for pos, new in zip(positions, _pack([args[p] for p in positions], on_input_grads)):
            args[pos] = new
        args = tuple(args)
    output = forward(*args, **kwargs)
    outputs = list(output) if isinstance(output, (tuple, list)) else [output]
    out_pos = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not out_pos:
        return output

    def on_output_grads(grads):
        grads = tuple(grads)
        for hook in pre_hooks:
            result = hook(module, grads)
            if result is not None:
                grads = _check_grads("backward pre-hook", result, grads)
        seen["grad_output"] = grads
        if hooks and not positions:  # no input needs a gradient: the hook runs now
            for hook in hooks:
                hook(module, (None,) * n_inputs, grads)
        return grads

    for pos, new in zip(out_pos, _pack([outputs[p] for p in out_pos], on_output_grads)):
        outputs[pos] = new
    if isinstance(output, (tuple, list)):
        return type(output)(outputs)
    return outputs[0]
