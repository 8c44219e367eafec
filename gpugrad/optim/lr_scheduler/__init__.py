"""Learning-rate schedulers with PyTorch's names, arguments and formulas.

A scheduler rewrites ``group["lr"]`` of its optimizer's groups on every ``step()``. Like
PyTorch's, most are *chainable*: ``get_lr`` scales the current lr recursively, so two
schedulers on one optimizer compose; ``step(epoch)`` (deprecated in PyTorch) jumps with the
closed form where one exists. State dicts hold plain numbers, so ``gg.save`` stores them.
"""
from .base import LRScheduler
from .compose import ChainedScheduler, SequentialLR
from .cyclic import CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR
from .plateau import ReduceLROnPlateau
from .step import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR,
                   PolynomialLR, StepLR)

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR", "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR",
           "MultiplicativeLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR",
           "StepLR"]
