"""Reverse-mode autodiff: the graph nodes (``Function``), the engine, grad mode, anomalies."""
from .anomaly import detect_anomaly
from .api import backward, grad
from .function import Function
from . import functional  # noqa: E402  (imports gpugrad.func only when called)
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,
                        set_grad_enabled)

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "detect_anomaly"]
