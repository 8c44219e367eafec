"""Atomic writes through a temporary file next to the target, and cleanup of the ones an
interrupted save (SIGKILL, power loss) left behind.

A temporary file for ``dir/ckpt.safetensors`` is ``dir/.ckpt.safetensors.<host>-<pid>-<rand>.tmp``:
hidden, ending in ``.tmp`` (never ``.safetensors``), and naming the machine and process that
write it, so the next save to the same path can tell a dead writer's leftovers from a save
still in progress.
"""
import contextlib
import hashlib
import os
import re
import secrets
import socket
import time

_SUFFIX = ".tmp"
_NAME = re.compile(r"\.(?P<target>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp")
# A writer on another machine cannot be asked whether it is alive; a save in progress keeps
# touching its file, so one untouched this long was abandoned.
FOREIGN_STALE_SECONDS = 3600


def _host_tag():
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_path(path):
    """A fresh temporary path for writing ``path``."""
    folder, base = os.path.split(os.path.abspath(path))
    tag = f"{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    return os.path.join(folder, f".{base}.{tag}{_SUFFIX}")


def is_temp_file(path):
    """True if ``path`` names a temporary file of ``gg.save`` (whoever's, dead or alive).

    >>> is_temp_file("runs/.last.safetensors.0123abcd-42-89abcdef.tmp")
    True
    >>> is_temp_file("runs/last.safetensors")
    False
    """
    return _split(os.path.basename(os.fspath(path))) is not None


def _split(name):
    """``(target basename, host tag, pid)`` of a temporary file's name, else None."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return match["target"], match["host"], int(match["pid"])


def remove_leftovers(path):
    """Delete the temporary files that interrupted saves to ``path`` left behind.

    Only files named as ``gg.save`` names them, for this very target, whose writer is gone:
    a dead process of this machine, or (another machine's) untouched for an hour. Returns
    the paths removed.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> remove_leftovers(os.path.join(folder, "ckpt.safetensors"))
    []
    """
    folder, base = os.path.split(os.path.abspath(os.fspath(path)))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        parts = _split(name)
        if parts is None or parts[0] != base:
            continue
        leftover = os.path.join(folder, name)
        if _abandoned(leftover, *parts[1:]):
            with contextlib.suppress(FileNotFoundError):  # a concurrent cleanup got it first
                os.unlink(leftover)
                removed.append(leftover)
    return removed


def _abandoned(path, host, pid):
    if host == _host_tag() and os.name == "posix":
        return not _alive(pid)
    try:
        return time.time() - os.stat(path).st_mtime > FOREIGN_STALE_SECONDS
    except FileNotFoundError:
        return False


def _alive(pid):
    # POSIX only: on Windows os.kill(pid, 0) would terminate the process.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def write_atomically(path, write):
    """Call ``write(file)`` on a new temporary file, make it durable, then rename it onto
    ``path``: readers see the old file or the new one, never a part."""
    remove_leftovers(path)
    tmp = temp_path(path)
    try:
        # O_EXCL: never write through a file someone else put there; 0o666 lets umask decide.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        with open(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(os.path.dirname(tmp))


def _fsync_directory(folder):
    """Make the rename durable too; POSIX only (elsewhere os.replace is all there is)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
