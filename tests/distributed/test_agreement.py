"""The pieces of DDP's agreement checks that need no second process: the layout comparison,
the step header's sums, and the collective timeout's setting."""
import datetime
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.distributed.agreement import (decode_header, encode_header, first_difference,
                                           module_layout, trainable_crc)
from gpugrad.distributed.watchdog import DEFAULT_TIMEOUT, timeout_seconds


def _param(*shape, dtype=gg.float32, requires_grad=True):
    return gg.zeros(*shape, dtype=dtype, requires_grad=requires_grad)


def _layout(**changes):
    params = [("w", _param(2, 3)), ("b", _param(3))]
    buffers = [("mean", gg.zeros(3))]
    options = dict(bucket_cap_mb=25, device="cpu", check_every=None)
    options.update({k: v for k, v in changes.items() if k in options})
    params = changes.get("params", params)
    trainable = [name for name, p in params if p.requires_grad]
    return module_layout(params, changes.get("buffers", buffers), trainable,
                         changes.get("buckets", [[1, 0]]), options["bucket_cap_mb"],
                         options["device"], options["check_every"])


@pytest.mark.parametrize("changes, expected", [
    (dict(params=[("w", _param(2, 3)), ("c", _param(3))]),
     "parameter 1 has name='c' on rank 1 but 'b' on rank 0"),
    (dict(params=[("w", _param(3, 2)), ("b", _param(3))]),
     "parameter 'w' has shape=(3, 2) on rank 1 but (2, 3) on rank 0"),
    (dict(params=[("w", _param(2, 3, dtype=gg.float64)), ("b", _param(3))]),
     "parameter 'w' has dtype="),
    (dict(params=[("w", _param(2, 3)), ("b", _param(3, requires_grad=False))], buckets=[[0]]),
     "parameter 'b' has requires_grad=False on rank 1 but True on rank 0"),
    (dict(params=[("w", _param(2, 3))], buckets=[[0]]),
     "rank 1 has 1 parameters, rank 0 2 (the first unmatched: 'b')"),
    (dict(buffers=[]), "rank 1 has 0 buffers, rank 0 1 (the first unmatched: 'mean')"),
    (dict(bucket_cap_mb=1), "bucket_cap_mb is 1.0 on rank 1 but 25.0 on rank 0"),
    (dict(buckets=[[1], [0]]), "bucket assignment is [['b'], ['w']] on rank 1 but "
                               "[['b', 'w']] on rank 0"),
    (dict(device="cuda"), "device type is 'cuda' on rank 1 but 'cpu' on rank 0"),
    (dict(check_every=5), "check_every is 5 on rank 1 but None on rank 0"),
])
def test_first_difference_names_it(changes, expected):
    assert first_difference(_layout(), _layout()) is None
    found = first_difference(_layout(**changes), _layout())
    assert found is not None and expected in found.format(r=1, ref=0)


def test_step_header_sums_tell_every_rank_alike():
    same = encode_header(7, 1234, True, False, 0, 3) + encode_header(7, 1234, True, False, 1, 3)
    same = same + encode_header(7, 1234, False, False, 2, 3)
    assert decode_header(same, 3)[:2] == (True, True)
    assert decode_header(same, 3)[2].tolist() == [1, 1, 0]
    # Steps 1, 3, 2: rank 2 alone would see sum == 3 x its own step; the squares tell.
    steps = sum(encode_header(s, 9, True, False, r, 3) for r, s in enumerate([1, 3, 2]))
    assert decode_header(steps, 3)[:2] == (False, True)
    crcs = sum(encode_header(4, c, True, r == 1, r, 2) for r, c in enumerate([5, 5 << 16]))
    same_step, same_trainable, _, failed = decode_header(crcs, 2)
    assert (same_step, same_trainable, failed.tolist()) == (True, False, [0, 1])


def test_trainable_crc_follows_requires_grad():
    a, b = gg.zeros(2, requires_grad=True), gg.zeros(2, requires_grad=True)
    before = trainable_crc([a, b])
    b.requires_grad = False
    assert trainable_crc([a, b]) != before


def test_timeout_from_argument_environment_or_default():
    assert timeout_seconds(environ={}) == DEFAULT_TIMEOUT
    assert timeout_seconds(environ={"GPUGRAD_DIST_TIMEOUT": "7"}) == 7.0
    assert timeout_seconds(datetime.timedelta(seconds=90), environ={}) == 90.0
    assert timeout_seconds(3, environ={"GPUGRAD_DIST_TIMEOUT": "7"}) == 3.0
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout must be positive"):
            timeout_seconds(bad, environ={})


def test_init_takes_the_timeout_and_a_broken_group_refuses_collectives():
    # A fresh process: MPI initialised as a world of one.
    code = """if True:
        import gpugrad.distributed as dist
        from gpugrad.distributed import runtime
        dist.init()
        assert runtime.watchdog().timeout == 4.5, runtime.watchdog().timeout
        dist.init(timeout=2)
        assert runtime.watchdog().timeout == 2
        dist.barrier()
        assert dist.all_reduce_sum([1, 2]).tolist() == [1.0, 2.0]
        assert dist.broadcast_object({"a": 1}) == {"a": 1}
        runtime.watchdog().error = "rank 0: broken on purpose"
        try:
            dist.barrier()
        except dist.CollectiveError as exc:
            assert "unusable after an earlier error" in str(exc)
        else:
            raise AssertionError("no error")
        runtime.watchdog().error = None
    """
    env = dict(os.environ, GPUGRAD_DIST_TIMEOUT="4.5")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert np.isfinite(DEFAULT_TIMEOUT) and 60 <= DEFAULT_TIMEOUT <= 600
