"""The writer lock: ``flock(2)`` on ``NAME.lock``, exclusive, with a timeout."""

import errno
import fcntl
import os
import time
from typing import List, Optional, Tuple

from .errors import LockTimeout, NotFound, StateCoordinatorError

__all__ = ["WriterLock", "lock_holders"]


def lock_holders(device: int, inode: int) -> List[int]:
    """Pids holding a lock on the file (device, inode), from /proc/locks (read whole)."""
    try:
        with open("/proc/locks", "rb") as f:
            table = f.read().decode("ascii", "replace")
    except OSError:
        return []
    wanted = "%02x:%02x:%d" % (os.major(device), os.minor(device), inode)
    pids = []
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK ADVISORY WRITE 1234 fd:01:5678 0 EOF"; waiters have "->" after the index.
        if "->" in fields:
            continue
        if len(fields) >= 6 and fields[5] == wanted:
            try:
                pids.append(int(fields[4]))
            except ValueError:
                pass
    return pids


def _uid_of(pid: int) -> Optional[int]:
    try:
        return os.stat("/proc/%d" % pid).st_uid
    except OSError:
        return None


class WriterLock:
    """The exclusive writer lock of one store, held until :meth:`release` (or the ``with`` ends)."""

    def __init__(self, directory: str, name: str, timeout: Optional[float]) -> None:
        self.path = os.path.join(directory, name + ".lock")
        self.fd = self._acquire(timeout)

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(
                "%s does not exist, so writers cannot serialize." % self.path, path=self.path,
                hint="If no writer is running, create it empty for the writers alone: install -m 600 /dev/null %s." % self.path) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise StateCoordinatorError("%s is a symbolic link, not the store's lockfile." % self.path, path=self.path,
                                            hint="Remove it (someone who may write the store's directory planted it).") from None
            raise StateCoordinatorError("cannot open %s: %s." % (self.path, error.strerror), path=self.path,
                                        hint="Writers need read access to the lockfile.") from None

    @classmethod
    def try_acquire(cls, directory: str, name: str) -> Optional["WriterLock"]:
        """The lock if it is free now (one ``LOCK_NB`` attempt), else None."""
        lock = cls.__new__(cls)
        lock.path = os.path.join(directory, name + ".lock")
        fd = lock._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not os.path.samestat(os.fstat(fd), os.stat(lock.path, follow_symlinks=False)):
                os.close(fd)
                return None
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        lock.fd = fd
        return lock

    def _acquire(self, timeout: Optional[float]) -> int:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        pause = 0.0005
        while True:
            fd = self._open()
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if deadline is not None and time.monotonic() >= deadline:
                            raise self._timeout(fd, timeout)
                        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
                        pause = min(pause * 2, 0.01)
                # The lockfile replaced while we waited (a recovery): lock the new one.
                try:
                    if os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False)):
                        return fd
                except FileNotFoundError:
                    pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _timeout(self, fd: int, timeout: Optional[float]) -> LockTimeout:
        status = os.fstat(fd)
        holders = [pid for pid in lock_holders(status.st_dev, status.st_ino) if pid != os.getpid()]
        pid = holders[0] if holders else None
        uid = _uid_of(pid) if pid else None
        who = "pid %d%s" % (pid, "" if uid is None else ", uid %d" % uid) if pid else "a process this one cannot see"
        return LockTimeout(
            "the writer lock %s was held for more than %g s by %s; nothing was committed." % (self.path, timeout or 0, who),
            holder_pid=pid, holder_uid=uid, path=self.path,
            hint="Ask its owner what it is doing, or retry later.")

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
