"""Every docstring example runs as written, and every public callable has one.

Examples may use ``gg`` (gpugrad) and ``np`` (NumPy) without importing them, as the API
reference says; anything else they import themselves. The kernel modules' examples launch
Numba-CUDA kernels: on a machine without a GPU they run in Numba's CUDA simulator, switched
on here as ``tests/kernels/conftest.py`` does, before numba.cuda loads. The examples of
``gg.distributed`` call ``dist.init()``, which initialises MPI (a world of one process) and
installs process-wide exception hooks, so they run in a child process.
"""
import doctest
import importlib
import inspect
import io
import os
import pkgutil
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

if not (os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi")):
    if "numba.cuda" not in sys.modules:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        if "numba" in sys.modules:
            sys.modules["numba"].core.config.reload_config()

import gpugrad as gg  # noqa: E402  (after the simulator switch)
import gpugrad.kernels  # noqa: E402

# Modules whose import needs an optional package, with the package.
OPTIONAL = {"gpugrad.backends.cupy_backend": "cupy", "gpugrad.parallel._cuda": "cupy"}


# Modules whose import raises on purpose, saying what to do instead.
REFUSING = {"gpugrad.onnx"}


def _module_names(package):
    names = [package.__name__]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name not in REFUSING:
            names.append(info.name)
    return names


MODULES = sorted(_module_names(gg) + _module_names(gpugrad.kernels))


def _import(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name], reason=f"{name} needs {OPTIONAL[name]}")
    return importlib.import_module(name)


IN_CHILD = {"gpugrad.distributed.runtime", "gpugrad.distributed.ddp",
            "gpugrad.distributed.process_group"}


def run_examples(name):
    """Run the examples of module ``name``: (failures, examples run, report)."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in finder.find(module, name, globs=dict(vars(module), gg=gg, np=np)):
        if test.examples and _defined_in(test, module):
            gg.manual_seed(0)
            runner.run(test, out=report.write)
    return runner.failures, runner.tries, report.getvalue()


# The simulated kernels hash with wrapping uint64 arithmetic, which NumPy warns about.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    _import(name)
    if name in IN_CHILD:
        pytest.importorskip("mpi4py", reason=f"the examples of {name} need mpi4py")
        code = ("import sys, test_doctests as t; failed, _, report = t.run_examples(sys.argv[1]);"
                " print(report); sys.exit(1 if failed else 0)")
        child = subprocess.run([sys.executable, "-c", code, name], capture_output=True,
                               text=True, timeout=120, cwd=os.path.dirname(__file__))
        assert child.returncode == 0, child.stdout + child.stderr
        return
    failed, _, report = run_examples(name)
    assert failed == 0, report


def _defined_in(test, module):
    # DocTestFinder also reaches objects a module imported; each is tested in its own module.
    return test.filename is None or os.path.samefile(test.filename, module.__file__)


# ---- coverage: public callables have an example ----------------------------------------
PUBLIC_MODULES = ["gpugrad", "gpugrad.nn", "gpugrad.nn.functional", "gpugrad.nn.init",
                  "gpugrad.nn.utils", "gpugrad.optim", "gpugrad.optim.lr_scheduler",
                  "gpugrad.func", "gpugrad.data", "gpugrad.utils.data", "gpugrad.train",
                  "gpugrad.parallel",
                  "gpugrad.distributed", "gpugrad.cuda", "gpugrad.viz", "gpugrad.autograd",
                  "gpugrad.amp", "gpugrad.utils.checkpoint", "gpugrad.nn.utils.parametrize",
                  "gpugrad.nn.utils.parametrizations"]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return names


def _public_callables():
    seen, found = set(), []
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in _public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) or not callable(obj) or isinstance(obj, np.dtype):
                continue
            if isinstance(obj, type) and issubclass(obj, np.generic):
                continue  # gg.float32 and friends are NumPy's scalar types
            if id(obj) not in seen:
                seen.add(id(obj))
                found.append((f"{modname}.{name}", obj))
    for name, attr in vars(gg.Tensor).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, property):
            found.append((f"Tensor.{name}", attr.fget))
        elif callable(attr):
            found.append((f"Tensor.{name}", attr))
    return found


# The classes whose own public methods are API a user calls (not hooks to override, like a
# layer's ``forward``): each method and property needs an example too.
CORE_CLASSES = [gg.nn.Module, gg.nn.ModuleList, gg.nn.ModuleDict, gg.nn.Sequential,
                gg.optim.Optimizer, gg.optim.lr_scheduler.LRScheduler, gg.data.DataLoader,
                gg.RowSparseGrad, gg.parallel.DataParallel, gg.Device, gg.amp.GradScaler,
                gg.Generator]


def _core_methods():
    found = []
    for cls in CORE_CLASSES:
        for name, attr in vars(cls).items():
            if name.startswith("_"):
                continue
            attr = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
            if callable(attr):
                found.append((f"{cls.__name__}.{name}", attr))
    return found


def test_core_class_methods_have_an_example():
    missing = [label for label, obj in _core_methods() if ">>>" not in (inspect.getdoc(obj) or "")]
    assert len(_core_methods()) > 50
    assert not missing, f"{len(missing)} methods without an example: {missing}"


def test_public_callables_have_an_example():
    missing = [label for label, obj in _public_callables()
               if ">>>" not in (inspect.getdoc(obj) or "")]
    assert not missing, f"{len(missing)} public callables without an example: {missing}"


def test_coverage_sees_the_api():
    # Guards the coverage test against finding nothing (a renamed module, a broken walk).
    labels = {label for label, _ in _public_callables()}
    assert {"gpugrad.tensor", "Tensor.backward", "Tensor.shape", "gpugrad.nn.Linear",
            "gpugrad.nn.functional.cross_entropy", "gpugrad.optim.Adam",
            "gpugrad.func.jvp"} <= labels
    assert len(labels) > 400
