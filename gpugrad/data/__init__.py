"""``gg.data``: a short name for ``gpugrad.utils.data`` (the same objects, not a copy).

>>> import gpugrad as gg
>>> loader = gg.data.DataLoader(gg.data.TensorDataset(gg.arange(4)), batch_size=3)
>>> [x.tolist() for (x,) in loader]
[[0, 1, 2], [3]]
>>> gg.data.DataLoader is gg.utils.data.DataLoader
True
"""
from ..utils.data import *  # noqa: F401,F403
from ..utils.data import __all__  # noqa: F401
