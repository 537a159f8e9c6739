"""Sharing the machine's cores between the lab's processes.

The lab's normal state is several processes computing at once: the model server
beside a training job, an eval worker beside the app. Each with torch's default
threads, two of them ran at a few percent of their speed alone on two cores
(bench/contention.py): OpenMP's worker threads spin at every barrier, waiting
for a core the other process holds. With one thread each, they barely slow
each other.

So the lab's tensor work runs inside `computing()`, and so does every job
worker from its first import to its end (a job keeps a core busy between its
tensor work too). While it does, the process holds an exclusive lock on a file
of its own in a folder that every lab process on this machine shares. Before
each forward pass, each layer, and between the layers' backward passes (hooks
that `watch` puts on every model the lab loads), a process counts the others
that hold their lock and takes its share of torch's threads: all of them alone,
half beside one other. A process that crashes loses its lock with it, so the
count is never stale; an idle one (a model server waiting for a question)
holds no lock and takes no share.

Waiting stays OpenMP's default: measured here, passive waiting cost a process
alone 30% of its generation speed, and a shorter spin made a training job
beside a busy Python process slower, not faster.

`RAGTUNE_THREADS=N` fixes N threads per process instead.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from core.errors import InvalidInputError

CHECK_EVERY_S = 0.2  # a decode step is ~10-30 ms; a count costs ~20 us a process


def share_folder() -> Path:
    """Where this machine's lab processes hold their locks (one per user; tests point it elsewhere)."""
    configured = os.environ.get("RAGTUNE_CPU_SHARE_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"ragtune-cpu-{os.getuid()}"


def fixed_threads() -> Optional[int]:
    """The thread count `RAGTUNE_THREADS` fixes, or None to share the cores."""
    value = os.environ.get("RAGTUNE_THREADS", "auto").strip().lower()
    if value in ("", "auto"):
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:  # int() refuses '²', a digit to isdigit
        raise InvalidInputError(f"RAGTUNE_THREADS={value!r}: use 'auto' or a whole number of threads of at least 1.")
    return int(value)


def others_computing(folder: Path, own_name: str = "") -> int:
    """How many processes other than `own_name` hold their lock in `folder` now."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    return sum(_is_held(entry.path) for entry in entries if entry.name != own_name)


def _is_held(path: str) -> bool:
    """True while the file's owner holds its lock; a file nobody holds (its owner
    crashed) is removed. Its owner checks after locking that the file it holds is
    still the one at its path, so removing one it is about to lock is harmless."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # gone between the listing and the open: its owner stopped computing
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return True
    try:
        os.unlink(path)
    except OSError:
        pass
    os.close(fd)
    return False


class CoreShare:
    """One process's claim on the cores: held while any of its threads computes."""

    def __init__(self, folder: Optional[Path] = None, all_threads: Optional[int] = None) -> None:
        self._folder = folder
        self._all_threads = all_threads
        self._guard = threading.Lock()
        self._depth = 0
        self._fd: Optional[int] = None
        self._path: Optional[Path] = None
        self._checked = threading.local()  # when each thread last counted

    @property
    def folder(self) -> Path:
        return self._folder or share_folder()

    @property
    def active(self) -> bool:
        return self._depth > 0

    @contextmanager
    def computing(self, device: str = "cpu") -> Iterator[None]:
        if not str(device).startswith("cpu"):
            yield  # a GPU's work needs no share of the cores
            return
        with self._guard:
            if self._depth == 0:
                self._claim()
            self._depth += 1
        try:
            self.rebalance(force=True)
            yield
        finally:
            with self._guard:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def rebalance(self, force: bool = False) -> None:
        """Set the calling thread's torch threads to this process's share (OpenMP's
        thread count belongs to the calling thread, so the computing thread calls this)."""
        if not self.active:
            return
        now = time.monotonic()
        if not force and now - getattr(self._checked, "at", 0.0) < CHECK_EVERY_S:
            return
        torch = sys.modules.get("torch")
        if torch is None:
            return  # nothing to set yet: the work that imports torch rebalances when it computes
        self._checked.at = now
        wanted = self.threads_now()
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)

    def threads_now(self) -> int:
        """Fixed by RAGTUNE_THREADS, else an equal share of the threads among the processes computing now."""
        fixed = fixed_threads()
        if fixed:
            return fixed
        sharers = 1 + others_computing(self.folder, self._path.name if self._path else "")
        return max(1, self.all_threads() // sharers)

    def all_threads(self) -> int:
        """The threads torch uses with the machine to itself (read once, before this sets any)."""
        if self._all_threads is None:
            import torch

            self._all_threads = torch.get_num_threads()
        return self._all_threads

    def _claim(self) -> None:
        if fixed_threads():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / str(os.getpid())
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # another process removed the file between our open and lock: take a new one
        self._fd, self._path = fd, path

    def _release(self) -> None:
        if self._fd is None:
            return
        try:
            self._path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing drops the lock
        self._fd = self._path = None


_SHARE = CoreShare()


def computing(device: Any = "cpu") -> Any:
    """`with computing(device):` around tensor work: this process counts as computing,
    and the calling thread takes its share of the cores (nothing on a GPU)."""
    return _SHARE.computing(str(device))


def watch(model: Any, share: CoreShare = _SHARE) -> Any:
    """Rebalance before every forward pass of `model` (a torch module) and of each of its
    layers, and between the layers' backward passes, so a long generation or a training
    step follows the other processes as they start and stop within a second."""
    import torch

    def before_layer(module: Any, args: tuple, kwargs: dict) -> None:
        share.rebalance()
        hidden = args[0] if args else kwargs.get("hidden_states")
        if getattr(hidden, "requires_grad", False):
            hidden.register_hook(lambda grad: share.rebalance())  # when backward reaches this layer

    model.register_forward_pre_hook(lambda *_: share.rebalance())
    for child in model.modules():
        if isinstance(child, torch.nn.ModuleList):
            for layer in child:
                layer.register_forward_pre_hook(before_layer, with_kwargs=True)
    return model
