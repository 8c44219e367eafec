"""What the digits examples share: the data (scikit-learn's bundled 8x8 digits, no download),
normalised, split into train and validation tensors, and the MLP."""
import numpy as np

import gpugrad as gg
import gpugrad.nn as nn


def load_digits_tensors(val_fraction=0.2, seed=0):
    """``(x_train, y_train), (x_val, y_val)``: 1797 images of 64 pixels, standardised with
    the training split's mean and standard deviation; labels 0-9 as int64."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = digits.data[order].astype(np.float32)
    y = digits.target[order].astype(np.int64)
    n_val = int(len(y) * val_fraction)
    x_train, x_val = x[n_val:], x[:n_val]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-3  # some border pixels are always 0
    x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    return ((gg.tensor(x_train), gg.tensor(y[n_val:])),
            (gg.tensor(x_val), gg.tensor(y[:n_val])))


def make_mlp(hidden=128):
    """64 -> hidden -> 10 with ReLU."""
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def default_devices():
    """Two GPUs if present, else one GPU, else two CPU replicas."""
    count = gg.cuda.device_count()
    if count >= 2:
        return ["cuda:0", "cuda:1"]
    if count == 1:
        return ["cuda:0"]
    return ["cpu", "cpu"]
