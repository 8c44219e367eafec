"""The simulated CuPy module is as strict as CuPy where gpugrad's GPU bugs hide.

These tests set the simulated device count directly and never install the module as
``cupy`` (that would change every later test in the process).
"""
import threading

import numpy as np
import pytest

from gpugrad import cuda_sim
from gpugrad.cuda_sim import _array, nccl
from gpugrad.cuda_sim.cuda import Device, Stream, get_current_stream


@pytest.fixture(autouse=True)
def two_devices():
    previous = _array._count[0]
    _array._count[0] = 2
    yield
    _array._count[0] = previous


def test_not_a_numpy_array_and_no_implicit_conversion():
    x = cuda_sim.arange(3.0)
    assert not isinstance(x, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="Unsupported type"):
        x + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.ones(3) + x
    np.testing.assert_array_equal(cuda_sim.asnumpy(x * 2), [0.0, 2.0, 4.0])


def test_numpy_functions_dispatch_only_where_cupy_has_them():
    x = cuda_sim.arange(4.0)
    assert type(np.sum(x)) is cuda_sim.ndarray  # __array_function__, as in CuPy
    assert type(np.exp(x)) is cuda_sim.ndarray  # __array_ufunc__
    with pytest.raises(AttributeError):
        cuda_sim.errstate


def test_reductions_and_indexing_give_0d_arrays():
    x = cuda_sim.arange(6.0).reshape(2, 3)
    for value in (x.sum(), x.max(), x[1, 2], cuda_sim.count_nonzero(x)):
        assert type(value) is cuda_sim.ndarray and value.ndim == 0
    assert float(x[1, 2]) == 5.0


def test_arrays_remember_their_device_and_refuse_the_current_other():
    with Device(1):
        x = cuda_sim.ones(3)
    assert x.device.id == 1
    with pytest.raises(ValueError, match=r"resides \(1\).*current device \(0\)"):
        x * 2
    with pytest.raises(ValueError, match="Peer access is unavailable"):
        x.sum()
    y = cuda_sim.ones(3)
    with Device(1), pytest.raises(ValueError):
        x + y
    assert x.reshape(3, 1).device.id == 1  # views launch nothing
    # copy() allocates on the current device and reads x from its stream: only once the
    # work that wrote x has finished (see test_stream_order.py for the race it would be).
    Device(1).synchronize()
    assert x.copy().device.id == 0
    with Device(1):
        assert float((x * 2).sum()) == 6.0


def test_device_context_is_per_thread():
    seen = []
    with Device(1):
        worker = threading.Thread(target=lambda: seen.append(Device().id))
        worker.start()
        worker.join()
        assert Device().id == 1
    assert seen == [0] and Device().id == 0
    with pytest.raises(cuda_sim.cuda.CUDARuntimeError):
        with Device(2):
            pass


def test_streams_are_current_per_device():
    stream = Stream(non_blocking=True)
    assert get_current_stream() is Stream.null
    with stream:
        assert get_current_stream() is stream
        assert get_current_stream(1) is Stream.null
    assert get_current_stream() is Stream.null


def test_unsupported_dtypes_raise():
    with pytest.raises(ValueError, match="Unsupported dtype"):
        cuda_sim.array(np.array([object()]))
    with pytest.raises(ValueError, match="Unsupported dtype"):
        cuda_sim.zeros(2, dtype=object)


def test_scatter_add_accumulates_repeats():
    from gpugrad.cuda_sim import cupyx
    a = cuda_sim.zeros(4, dtype=np.float32)
    cupyx.scatter_add(a, cuda_sim.array([1, 0, 1]), cuda_sim.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(a.get(), [1.0, 2.0, 0.0, 0.0])


def test_nccl_all_reduce_sums_across_devices_in_a_group():
    comms = nccl.NcclCommunicator.initAll([0, 1])
    bufs = []
    for index in (0, 1):
        with Device(index):
            bufs.append(cuda_sim.arange(4.0) * (index + 1))
    nccl.groupStart()
    for comm, buf in zip(comms, bufs):
        comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, nccl.NCCL_FLOAT64,
                       nccl.NCCL_SUM, 0)
    nccl.groupEnd()
    for buf in bufs:
        np.testing.assert_array_equal(buf.get(), [0.0, 3.0, 6.0, 9.0])


def test_nccl_one_thread_two_ranks_outside_a_group_raises():
    comms = nccl.NcclCommunicator.initAll([0, 1])
    bufs = []
    for index in (0, 1):
        with Device(index):
            bufs.append(cuda_sim.ones(2))
    comms[0].allReduce(bufs[0].data.ptr, bufs[0].data.ptr, 2, nccl.NCCL_FLOAT64,
                       nccl.NCCL_SUM, 0)
    with pytest.raises(nccl.NcclError, match="groupStart"):
        comms[1].allReduce(bufs[1].data.ptr, bufs[1].data.ptr, 2, nccl.NCCL_FLOAT64,
                           nccl.NCCL_SUM, 0)


def test_nccl_refuses_a_buffer_on_another_device():
    comms = nccl.NcclCommunicator.initAll([0, 1])
    buf = cuda_sim.ones(2)  # on device 0, handed to the device-1 rank
    with pytest.raises(cuda_sim.cuda.CUDARuntimeError, match="device 0"):
        comms[1].allReduce(buf.data.ptr, buf.data.ptr, 2, nccl.NCCL_FLOAT64,
                           nccl.NCCL_SUM, 0)
