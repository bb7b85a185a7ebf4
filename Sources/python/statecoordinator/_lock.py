"""The writer lock: ``flock(2)`` on ``NAME.lock``, exclusive, with a timeout."""

import errno
import fcntl
import os
import threading
import time
from typing import Dict, List, Optional, Tuple

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
        """Takes the lock: at once with ``LOCK_NB`` when it is free; else with no timeout in a
        blocking ``flock`` on this thread; else through the lockfile's parked waiter
        (:class:`_ParkedWaiter`), which takes it the moment its holder lets go. (Polling with
        ``LOCK_NB`` left the lock idle between polls: beside writers that wait in ``flock``, a
        polling writer was starved until its timeout.)"""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            fd = self._open()
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if deadline is None:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                    else:
                        try:
                            waited = _ParkedWaiter.of(os.fstat(fd)).claim(self.path, deadline)
                        except OSError as error:
                            raise StateCoordinatorError("cannot lock %s: %s." % (self.path, error.strerror), path=self.path,
                                                        hint="Nothing was committed; retry.") from None
                        if waited is None or (waited < 0 and time.monotonic() >= deadline):
                            raise self._timeout(fd, timeout) from None
                        os.close(fd)
                        if waited < 0:  # the lockfile was replaced: open the new one
                            continue
                        fd = waited
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


class _ParkedWaiter:
    """A daemon thread blocked in ``flock(LOCK_EX)`` on its own descriptor of one lockfile, for
    the threads of this process that wait for that lock with a timeout.

    A blocked ``flock`` cannot be cancelled, so a wait that times out leaves the thread parked,
    and later waits on the same lockfile adopt it instead of starting another: against a stopped
    holder, a bot that retries keeps one thread and one descriptor waiting however often it times
    out. When the thread gets the lock it hands its descriptor to a waiting claimant, or, if none
    waits any more, unlocks and closes it at once. As in the Swift package's ``LockWaiter``."""

    _parked: Dict[Tuple[int, int], "_ParkedWaiter"] = {}
    _guard = threading.Lock()

    def __init__(self, key: Tuple[int, int]) -> None:
        self._key = key
        self._condition = threading.Condition()
        self._claimants = 0
        self._parked_fd = -1  # the descriptor the thread is blocked on, while it is
        self._handed: Optional[int] = None
        self._failure: Optional[OSError] = None

    @classmethod
    def of(cls, status: os.stat_result) -> "_ParkedWaiter":
        with cls._guard:
            key = (status.st_dev, status.st_ino)
            waiter = cls._parked.get(key)
            if waiter is None:
                waiter = cls._parked[key] = cls(key)
            return waiter

    @classmethod
    def parked_count(cls, lockfile: Optional[str] = None) -> int:
        """How many threads of this process are blocked in ``flock`` (on `lockfile`'s inode,
        when given); for tests."""
        key = None
        if lockfile is not None:
            status = os.stat(lockfile, follow_symlinks=False)
            key = (status.st_dev, status.st_ino)
        with cls._guard:
            waiters = [waiter for found, waiter in cls._parked.items() if key is None or found == key]
        return sum(1 for waiter in waiters if waiter._parked_fd >= 0)

    @classmethod
    def forget_in_child(cls) -> None:
        """After ``fork``: the parked threads stayed in the parent; close the child's copies of
        their descriptors (the parent's locks are untouched) and start afresh."""
        for waiter in cls._parked.values():
            for fd in (waiter._parked_fd, waiter._handed):
                if fd is not None and fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        cls._parked = {}
        cls._guard = threading.Lock()

    def claim(self, path: str, deadline: float) -> Optional[int]:
        """A descriptor holding the lock; None at the deadline; -1 when the lockfile's name no
        longer holds this inode. Raises what the waiter's ``flock`` raised."""
        with self._condition:
            self._claimants += 1
            try:
                while True:
                    if self._handed is not None:
                        fd, self._handed = self._handed, None
                        return fd
                    if self._failure is not None:
                        failure, self._failure = self._failure, None
                        raise failure
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    if self._parked_fd < 0:
                        # Its own descriptor, of the same inode; -1 tells the caller the name no
                        # longer holds it (then it opens the new lockfile).
                        try:
                            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
                        except OSError:
                            return -1
                        status = os.fstat(fd)
                        if (status.st_dev, status.st_ino) != self._key:
                            os.close(fd)
                            return -1
                        self._park(fd)
                    self._condition.wait(remaining)
            finally:
                self._claimants -= 1
                if self._claimants == 0 and self._handed is not None:
                    # Handed over to a claimant that left (an exception in its wait): nobody
                    # takes it any more, so the lock must not stay held.
                    os.close(self._handed)
                    self._handed = None

    def _park(self, fd: int) -> None:
        """With the condition held: starts the thread that blocks on `fd`."""
        self._parked_fd = fd
        threading.Thread(target=self._wait, args=(fd,), name="statecoordinator-lock-waiter", daemon=True).start()

    def _wait(self, fd: int) -> None:
        failure: Optional[OSError] = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:
            failure = error
        with self._condition:
            self._parked_fd = -1
            if failure is None and self._claimants > 0:
                self._handed = fd
            else:
                if failure is not None and self._claimants > 0:
                    self._failure = failure
                os.close(fd)  # releases the lock, if it was taken, and nobody waits for it
            self._condition.notify_all()


os.register_at_fork(after_in_child=_ParkedWaiter.forget_in_child)
