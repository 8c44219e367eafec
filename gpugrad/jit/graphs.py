"""CUDA graphs: on CuPy, the device part of a plan is captured once and relaunched.

A plan splits into three parts around its longest run of device work (ops, backward
formulas, reshapes): ``pre`` (argument and parameter reads, ``zero_grad``, ...), the
*region*, captured into a ``cupy.cuda.Graph`` on a private stream with a private memory pool
so no other allocation reuses its memory, and ``post`` (the gradients handed to the leaves,
the optimizer step, host reads). A step then costs one graph launch plus the Python of
``pre`` and ``post``.

A captured graph reads and writes fixed addresses, so:

* arrays the region reads that ``pre`` makes anew each call (the arguments) are copied into
  static buffers before each launch; parameters are read in place, and a parameter whose
  array was replaced (``p.data = ...`` rebinding) makes the next call capture again;
* what the region produces lives in the graph's buffers: returned tensors are copies, and
  leaves receive their gradients as copies (``shared``);
* dropout's seed draw and host reads end the region (a seed baked into a graph would repeat
  its mask).

If the capture or its first launch fails (an operation CUDA cannot capture), the plan runs
without a graph from then on.
"""
from .codegen import body, build, const_lines, on_dict
from .instructions import ARG, LEAF, LOAD, NODE, OP, VIEW, Holder, reads, writes

_DEVICE_WORK = (OP, VIEW, NODE)
_CAPTURABLE = (OP, VIEW, NODE, LOAD, ARG, LEAF)


def region(plan):
    """``(start, stop)``: the longest run of instructions a graph can hold, with device work
    in it; None if there is none."""
    seeded = {id(ins[2]) for ins in plan.code if _seeded(ins)}
    op_at = {id(ins[2]): i for i, ins in enumerate(plan.code) if ins[0] == OP}
    best, start = None, None
    for i, ins in enumerate(plan.code + [None]):
        # What an op or backward formula reads off another op's context (a seed, saved
        # statistics) is read when captured: that op must be captured too, seedless.
        first = i if start is None else start
        if ins is not None and ins[0] in _CAPTURABLE and not _seeded(ins) and all(
                id(ctx) not in seeded and op_at.get(id(ctx), -1) >= first
                for ctx in _contexts_read(ins)):
            start = first
            continue
        if start is not None and (best is None or i - start > best[1] - best[0]):
            best = (start, i)
        start = None
    if best is None:
        return None
    start, stop = best
    handed = set()  # gradients leaves get after the launch: the region may not read them
    for j in range(start, stop):
        ins = plan.code[j]
        if handed.intersection(reads(ins)):
            stop = j
            break
        if ins[0] == LEAF and ins[4] is not None:
            handed.add(ins[4])
    if not any(plan.code[j][0] in _DEVICE_WORK for j in range(start, stop)):
        return None
    return start, stop


def _contexts_read(ins):
    """The contexts whose attributes ``ins`` reads when it runs."""
    if ins[0] == NODE:
        return (ins[2],)
    if ins[0] == OP:
        return tuple(_attr_sources(t for _, t in ins[5]))
    return ()


def _attr_sources(templates):
    for t in templates:
        if t[0] == "attr" and not isinstance(t[1], Holder):
            yield t[1]
        elif t[0] == "seq":
            yield from _attr_sources(t[2])


def _seeded(ins):
    """An op whose parameter is a seed drawn this call (dropout): a graph would keep the
    seed it was captured with."""
    return ins[0] == OP and any(_holds_seed(t) for _, t in ins[5])


def _holds_seed(template):
    if template[0] == "attr":
        return isinstance(template[1], Holder)
    if template[0] == "seq":
        return any(_holds_seed(t) for t in template[2])
    return False


class CudaGraph:
    """A plan run as ``pre``, one graph launch, ``post``; see the module docstring."""

    def __init__(self, plan, span, xp):
        self.plan, self.xp = plan, xp
        start, stop = span
        code = [list(ins) for ins in plan.code]
        inside = range(start, stop)
        device = [j for j in inside if code[j][0] in _DEVICE_WORK]
        before = list(range(start)) + [j for j in inside if code[j][0] in (LOAD, ARG)]
        leaves = [j for j in inside if code[j][0] == LEAF]
        for j in leaves:
            code[j][3] = True  # shared: the graph's buffer is not handed over itself
        after = leaves + list(range(stop, len(code)))
        self.reads = {s for j in device for s in reads(code[j])}
        self.made = {s for j in device for s in writes(code[j])}
        self.live = {code[j][1]: code[j][2] for j in before
                     if code[j][0] == LOAD and code[j][2] is not None}
        self.fixed = {s for s, _, written in plan.consts if not written}
        made = set()
        for j in device:  # an in-place write into a static copy would not reach its source
            ins = code[j]
            if ins[0] == OP and ins[6] in ins[3] and ins[6] not in made | set(self.live):
                raise ValueError("an in-place write into an array made before the region")
            made.update(writes(ins))
        names = {}
        self._pre, _ = build(["def pre(args, S, hosts):"] + _indent(
            on_dict(const_lines(plan, names) + body(plan, before, names, code=code))) +
            ["    pass"], names, "pre")
        self._region, _ = build(["def region(S):"] + _indent(
            on_dict(body(plan, device, names, frees=False, code=code))) + ["    pass"],
            names, "region")
        outs = [f"S[{o[1]}]" for o in plan.outputs if o[0] == "slot"]
        self._post, _ = build(["def post(S, hosts):"] + _indent(
            on_dict(body(plan, after, names, code=code))) +
            [f"    return ({''.join(o + ', ' for o in outs)}), hosts"], names, "post")
        self.graph = None  # captured on the first run
        self.failed = None  # why capturing failed, if it did

    def run(self, args):
        """The flat output arrays and host values of one step (see ``Plan.run``)."""
        slots, hosts = {}, {}
        self._pre(args, slots, hosts)
        try:
            if self.graph is None or any(t._data is not a for t, a in self._params):
                self._capture(slots)
            else:
                xp = self.xp
                for s, static in self._static.items():
                    xp.copyto(static, slots[s])
                self.graph.launch(stream=xp.cuda.get_current_stream())
        except Exception as err:  # noqa: BLE001  (work CUDA cannot capture: run it as is)
            self.disable(f"{type(err).__name__}: {err}")
            self._region(slots)
        else:
            slots.update(self._made)
        arrays, hosts = self._post(slots, hosts)
        return [a.copy() for a in arrays], hosts  # the graph's buffers are reused

    def _capture(self, slots):
        """Capture the region (inputs in static buffers) and launch it once."""
        xp = self.xp
        self._pool = xp.cuda.MemoryPool()  # kept: the graph's memory stays its own
        stream = xp.cuda.Stream(non_blocking=True)
        with xp.cuda.using_allocator(self._pool.malloc):
            self._static = {s: slots[s].copy() for s in self.reads
                            if s in slots and s not in self.live and s not in self.fixed}
            self._params = [(t, slots[s]) for s, t in self.live.items() if s in slots]
            work = dict(slots)
            work.update(self._static)
            current = xp.cuda.get_current_stream()
            stream.wait_event(current.record())
            with stream:
                stream.begin_capture()
                try:
                    self._region(work)
                finally:
                    self.graph = stream.end_capture()
        self._made = {s: work[s] for s in self.made}
        self.graph.launch(stream=current)

    def disable(self, reason):
        self.graph, self.failed = None, reason


def _indent(lines):
    return ["    " + line for line in lines]


def maybe(plan, enabled):
    """The ``CudaGraph`` of ``plan`` when it runs on CuPy and graphs are ``enabled``."""
    if not enabled or plan.device is None or plan.device.type != "cuda":
        return None
    span = region(plan)
    if span is None:
        return None
    from ..backends.device import backend_for
    try:
        return CudaGraph(plan, span, backend_for(plan.device).xp)
    except ValueError:
        return None

