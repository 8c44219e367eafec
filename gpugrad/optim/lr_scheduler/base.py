"""The scheduler base class and the helpers its subclasses share."""
import warnings

from ..optimizer import Optimizer
from ...autograd.recording import traced_call

_EPOCH_DEPRECATION = ("passing an epoch to step() is deprecated (as in PyTorch): call step() "
                      "once per epoch instead")


class LRScheduler:
    """Base class: subclasses implement ``get_lr()`` (the lrs at ``last_epoch``).

    Creating a scheduler performs its initial step, which sets ``last_epoch`` to 0 and the
    groups' lr to the schedule's first value; call ``step()`` after each optimizer step.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> sched = gg.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
    >>> sched.step()
    >>> sched.last_epoch, sched.get_last_lr()
    (1, [0.5])
    """

    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler (last_epoch >= 0); load the "
                                   "optimizer's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        """Every attribute except the optimizer (plain numbers, lists and dicts).

        >>> w = gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([w], lr=1.0)
        >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.step()
        >>> sched.state_dict()['last_epoch']
        1
        """
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore attributes saved by ``state_dict()``.

        >>> w = gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([w], lr=1.0)
        >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.step()
        >>> state = sched.state_dict()
        >>> fresh = gg.optim.lr_scheduler.StepLR(gg.optim.SGD([w], lr=1.0), step_size=1, gamma=0.5)
        >>> fresh.load_state_dict(state)
        >>> fresh.last_epoch
        1
        """
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        """The lrs the last ``step()`` set, one per param group.

        >>> w = gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([w], lr=1.0)
        >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.step()
        >>> sched.get_last_lr()
        [0.5]
        """
        return self._last_lr

    def get_lr(self):
        """The lrs of the epoch just entered, one per param group; each scheduler defines it (call
        ``step()``, not this).

        >>> w = gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([w], lr=1.0)
        >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.last_epoch = 1
        >>> sched.get_lr()
        [0.5]
        """
        raise NotImplementedError

    @traced_call("step")
    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``) and write the new lrs into the groups.

        >>> w = gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([w], lr=1.0)
        >>> sched = gg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        >>> for epoch in range(3):
        ...     opt.step()
        ...     sched.step()
        >>> opt.param_groups[0]['lr']
        0.125
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        """Move to the next epoch (or to ``epoch``, by the closed form where one exists) and
        write the lrs; SequentialLR calls it directly to restart a scheduler at epoch 0."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


def _check_optimizer(optimizer):
    """Raise TypeError early: some subclasses read the optimizer before ``super().__init__``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _per_group(name, optimizer, value):
    """``value`` repeated per param group, or checked to have one entry per group."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"expected {groups} values for {name}, got {len(value)}")
        return list(value)
    return [value] * groups
