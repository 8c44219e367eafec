"""``gg.backends.cudnn``: PyTorch's cuDNN switches, accepted so that training scripts run
unchanged. gpugrad does not call cuDNN, so they change nothing: convolutions take the same
path whatever they say.

>>> import gpugrad as gg
>>> gg.backends.cudnn.benchmark = True  # accepted, means nothing
>>> gg.backends.cudnn.deterministic, gg.backends.cudnn.is_available()
(False, False)
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """Always False: gpugrad does not use cuDNN.

    >>> gg.backends.cudnn.is_available()
    False
    """
    return False
