"""Read by Python at the start of a process whose PYTHONPATH begins with this folder (a job worker started by
test_full_disk.py): a file opened for writing at a path matching the glob $RAGTUNE_TEST_FULL_DISK fails with
ENOSPC, as on a full disk. An audit hook, so the lab's code runs unchanged; writes made by native code
(safetensors, Chroma) do not pass through it."""

import errno
import fnmatch
import os
import sys

FULL = os.environ.get("RAGTUNE_TEST_FULL_DISK", "")
WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT


def refuse_writes(event: str, args: tuple) -> None:
    if event != "open" or not FULL:
        return
    path, mode, flags = args
    if path is None or isinstance(path, int):
        return
    writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITING)
    if writing and fnmatch.fnmatch(os.path.abspath(os.fsdecode(path)), FULL):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fsdecode(path))


sys.addaudithook(refuse_writes)
