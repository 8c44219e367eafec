"""The instruction kinds of a plan, which slots each reads and writes, and the exception a
failed guard raises. An instruction is a list: its kind, its operands, and last the slots
freed after it."""

OP, LOAD, ARG, NODE, LEAF, CALL, HOST, SEED, VIEW, SETGRAD = range(10)


class Holder:
    """Where a replayed seed draw leaves its value."""

    value = None


class GuardFailed(Exception):
    """A value the trace branched on changed (``index``: the instruction)."""

    def __init__(self, index, message):
        super().__init__(message)
        self.index = index


def reads(ins):
    """The slots instruction ``ins`` reads.

    >>> reads([VIEW, 3, (2, 2), 4, ()])
    (3,)
    """
    op = ins[0]
    if op == OP:
        return ins[3] + ins[11]
    if op == NODE:
        return (ins[3],) + tuple(ins[5])
    if op == LEAF:
        return (ins[2],)
    if op in (HOST, VIEW):
        return (ins[1],)
    if op == SETGRAD:
        return () if ins[2] is None else (ins[2],)
    return ()


def template_slots(templates):
    """The slots parameter templates (see ``Tracer._template``) read.

    >>> list(template_slots([("seq", tuple, (("slot", 5), ("const", 1)))]))
    [5]
    """
    for t in templates:
        if t[0] == "slot":
            yield t[1]
        elif t[0] == "seq":
            yield from template_slots(t[2])


def writes(ins):
    """The slots instruction ``ins`` writes.

    >>> writes([VIEW, 3, (2, 2), 4, ()])
    (4,)
    """
    op = ins[0]
    if op == OP:
        return (ins[6],) + tuple(s for _, s in ins[7])
    if op in (LOAD, ARG):
        return (ins[1],)
    if op == NODE:
        return tuple(s for s in ins[4] if s is not None)
    if op == LEAF:
        return () if ins[4] is None else (ins[4],)
    if op == VIEW:
        return (ins[3],)
    if op == CALL:
        return () if ins[4] is None else (ins[4],)
    return ()


