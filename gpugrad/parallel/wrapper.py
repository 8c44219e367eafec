"""What the data-parallel wrappers share: they stand in for the module they wrap."""


class ModuleWrapper:
    """Forwards the ``Module`` API a training loop uses to ``self.module``."""

    def __call__(self, *args, **kwargs):
        """Forward on the wrapped module only (evaluation, inference)."""
        return self.module(*args, **kwargs)

    def parameters(self):
        return self.module.parameters()

    def named_parameters(self):
        return self.module.named_parameters()

    def state_dict(self):
        return self.module.state_dict()

    def load_state_dict(self, state_dict):
        return self.module.load_state_dict(state_dict)

    def train(self, mode=True):
        self.module.train(mode)
        return self

    def eval(self):
        return self.train(False)
