"""Which device a rank should use."""
import os

import gpugrad as gg

# Local (per node) rank variables of MPICH/Hydra, Open MPI and MVAPICH.
_LOCAL_RANK_VARIABLES = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                        "MV2_COMM_WORLD_LOCAL_RANK")


def local_device():
    """``cuda:<local rank mod GPU count>`` when GPUs are present, else ``cpu``: one GPU per
    rank on each node.

    >>> local_device() if gg.cuda.is_available() else "cpu"
    'cpu'
    """
    count = gg.cuda.device_count()
    if count == 0:
        return "cpu"
    local = 0
    for name in _LOCAL_RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            local = int(os.environ[name])
            break
    return f"cuda:{local % count}"
