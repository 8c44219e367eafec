"""Running from a source checkout without installing it (``PYTHONPATH=.``).

The installed package maps ``gpugrad.kernels`` to the top-level ``kernels/`` folder
(``pyproject.toml``); a bare checkout has no such mapping, so ``import gpugrad.kernels``
would fail on a machine where nothing can be installed. Importing this module (the first
thing ``gpugrad/__init__.py`` does) makes the same mapping, only where the installed one
is absent.
"""
import importlib.util
import os
import sys


def map_kernels():
    """Register ``kernels/`` beside this package as ``gpugrad.kernels`` if nothing else
    provides it (an installed or editable gpugrad does).

    >>> import gpugrad.kernels
    >>> gpugrad.kernels.__name__
    'gpugrad.kernels'
    """
    name = "gpugrad.kernels"
    if name in sys.modules or importlib.util.find_spec(name) is not None:
        return
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "kernels")
    init = os.path.join(folder, "__init__.py")
    if not os.path.exists(init):
        return  # neither installed nor a checkout: the import error will say so
    spec = importlib.util.spec_from_file_location(name, init,
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


map_kernels()
