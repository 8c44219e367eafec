"""The instruction kinds of a plan and the exception a failed guard raises."""

OP, LOAD, ARG, NODE, LEAF, CALL, HOST, SEED, VIEW, SETGRAD = range(10)


class Holder:
    """Where a replayed seed draw leaves its value."""

    value = None


class GuardFailed(Exception):
    """A value the trace branched on changed (``index``: the instruction)."""

    def __init__(self, index, message):
        super().__init__(message)
        self.index = index
