"""Training loops: ``Trainer`` (one device, several devices, or several MPI ranks),
callbacks, history and TensorBoard logging.

>>> import gpugrad as gg
>>> h = gg.train.History(); h.append({"loss": 1.0}); h
{'loss': [1.0]}
"""
from .callbacks import Callback, EarlyStopping, ModelCheckpoint
from .engines import make_engine
from .history import History, plot_history
from .tensorboard import TensorBoardLogger, next_run_dir
from .trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "History", "ModelCheckpoint", "TensorBoardLogger",
           "Trainer", "make_engine", "next_run_dir", "plot_history"]
