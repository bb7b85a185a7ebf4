"""The writer lock: ``flock(2)`` on ``NAME.lock``, exclusive, with a timeout."""

import errno
import fcntl
import os
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

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
        fd = self._acquire(timeout)
        if fd is None:  # only a wait with `stop` ends without the lock or an error
            raise StateCoordinatorError("the wait for %s ended without the lock." % self.path, path=self.path)
        self.fd = fd

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
                _unlock_and_close(fd)
                return None
        except (BlockingIOError, FileNotFoundError):
            _unlock_and_close(fd)
            return None
        except BaseException:
            _unlock_and_close(fd)
            raise
        lock.fd = fd
        return lock

    @classmethod
    def unless(cls, directory: str, name: str, timeout: Optional[float], stop: Callable[[], bool]) -> Optional["WriterLock"]:
        """The lock, waited for as the constructor waits (in ``flock``, through the parked waiter);
        or None as soon as ``stop()`` returns true (asked every :data:`STOP_POLL` seconds while the
        lock is held by another), or when `timeout` passes (no :class:`LockTimeout` then: the
        caller decides what a timeout means). What ``stop()`` raises ends the wait and propagates.
        For a combining writer, whose published mutation may be answered before it gets the lock."""
        lock = cls.__new__(cls)
        lock.path = os.path.join(directory, name + ".lock")
        fd = lock._acquire(timeout, stop)
        if fd is None:
            return None
        lock.fd = fd
        return lock

    #: How often :meth:`unless` asks whether to stop waiting.
    STOP_POLL = 0.002

    def _acquire(self, timeout: Optional[float], stop: Optional[Callable[[], bool]] = None) -> Optional[int]:
        """Takes the lock: at once with ``LOCK_NB`` when it is free; else with no timeout in a
        blocking ``flock`` on this thread; else through the lockfile's parked waiter
        (:class:`_ParkedWaiter`), which takes it the moment its holder lets go. (Polling with
        ``LOCK_NB`` left the lock idle between polls: beside writers that wait in ``flock``, a
        polling writer was starved until its timeout.) Polls only where no thread can be started.

        With `stop` (:meth:`unless`): None when it said stop or the timeout passed, and the wait
        goes through the parked waiter even without a timeout, so that it can stop. What `stop`
        raises is raised unchanged, never reported as a failure to lock."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        raised: List[BaseException] = []

        def asking() -> bool:
            assert stop is not None
            try:
                return stop()
            except BaseException as error:
                raised.append(error)
                return True

        ask = None if stop is None else asking
        while True:
            fd = self._open()
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if deadline is None and stop is None:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                    else:
                        until = float("inf") if deadline is None else deadline
                        try:
                            waited: Optional[int] = _ParkedWaiter.of(os.fstat(fd)).claim(self.path, until, ask)
                        except OSError as error:
                            raise StateCoordinatorError("cannot lock %s: %s." % (self.path, error.strerror), path=self.path,
                                                        hint="Nothing was committed; retry.") from None
                        if waited == _ParkedWaiter.NO_THREAD:
                            waited = self._poll(fd, until, ask)
                        if waited == _ParkedWaiter.STOPPED or (stop is not None and waited is None):
                            if raised:
                                raise raised[0]
                            _unlock_and_close(fd)
                            return None
                        if waited is None or (waited == _ParkedWaiter.REPLACED and time.monotonic() >= until):
                            if stop is not None:
                                _unlock_and_close(fd)
                                return None
                            raise self._timeout(fd, timeout) from None
                        if waited == _ParkedWaiter.REPLACED:  # open the new lockfile
                            os.close(fd)
                            continue
                        if waited != fd:
                            # Swapped before the close: an exception between the two (a signal's)
                            # still finds `fd` holding the descriptor that holds the lock.
                            fd, spare = waited, fd
                            os.close(spare)
                # The lockfile replaced while we waited (a recovery): lock the new one.
                try:
                    if os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False)):
                        return fd
                except FileNotFoundError:
                    pass
            except BaseException:
                _unlock_and_close(fd)
                raise
            _unlock_and_close(fd)

    @staticmethod
    def _poll(fd: int, deadline: float, stop: Optional[Callable[[], bool]] = None) -> Optional[int]:
        """``LOCK_NB`` until the deadline, pausing up to 10 ms (2 ms with `stop`): for where no
        waiter thread can be started (out of threads; at interpreter exit). `fd` once locked;
        None at the deadline; :data:`_ParkedWaiter.STOPPED` when `stop` said so."""
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if stop is not None and stop():
                    return _ParkedWaiter.STOPPED
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 0.01 if stop is None else WriterLock.STOP_POLL)

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
            fd, self.fd = self.fd, -1
            _unlock_and_close(fd)

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _unlock_and_close(fd: int) -> None:
    """``LOCK_UN``, then close: a close alone leaves the lock held while a child forked meanwhile
    keeps a copy of the descriptor (the lock belongs to the open file description they share)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
    try:
        os.close(fd)
    except OSError:
        pass  # nothing to do about it: the lock was dropped, and a lockfile holds no data


class _ParkedWaiter:
    """A daemon thread blocked in ``flock(LOCK_EX)`` on its own descriptor of one lockfile, for
    the threads of this process that wait for that lock with a timeout.

    A blocked ``flock`` cannot be cancelled, so a wait that times out leaves the thread parked,
    and later waits on the same lockfile adopt it instead of starting another: against a stopped
    holder, a bot that retries keeps one thread and one descriptor waiting however often it times
    out. When the thread gets the lock it hands its descriptor to a waiting claimant, or, if none
    waits any more, unlocks and closes it at once. As in the Swift package's ``LockWaiter``.

    Known limit: an exception raised by a signal handler in the instant between :meth:`claim`
    returning a descriptor and the caller storing it loses that descriptor, with the lock (Python
    gives no way to close that window); the lock is released when the process exits."""

    #: :meth:`claim`: the lockfile's name no longer holds the inode waited for.
    REPLACED = -1
    #: :meth:`claim`: no thread could be started (out of threads, or at interpreter exit).
    NO_THREAD = -2
    #: :meth:`claim`: its `stop` said to stop waiting.
    STOPPED = -3

    _parked: Dict[Tuple[int, int], "_ParkedWaiter"] = {}
    _guard = threading.Lock()

    def __init__(self, key: Tuple[int, int]) -> None:
        self._key = key
        self._condition = threading.Condition()
        self._claimants = 0
        self._parked_fd = -1  # the waiter thread's descriptor, from its open until it hands it over or closes it
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
    def _on(cls, lockfile: Optional[str]) -> List["_ParkedWaiter"]:
        key = None
        if lockfile is not None:
            status = os.stat(lockfile, follow_symlinks=False)
            key = (status.st_dev, status.st_ino)
        with cls._guard:
            return [waiter for found, waiter in cls._parked.items() if key is None or found == key]

    @classmethod
    def parked_count(cls, lockfile: Optional[str] = None) -> int:
        """How many threads of this process are blocked in ``flock`` (on `lockfile`'s inode,
        when given); for tests."""
        return sum(1 for waiter in cls._on(lockfile) if waiter._parked_fd >= 0)

    @classmethod
    def claimant_count(cls, lockfile: str) -> int:
        """How many threads of this process wait for `lockfile`'s waiter to hand it over; for tests."""
        return sum(waiter._claimants for waiter in cls._on(lockfile))

    @classmethod
    def forget_in_child(cls) -> None:
        """After ``fork``: the parked threads stayed in the parent; close the child's copies of
        their descriptors (the parent's locks are untouched) and start afresh."""
        for waiter in cls._parked.values():
            for fd in {waiter._parked_fd, -1 if waiter._handed is None else waiter._handed}:
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        cls._parked = {}
        cls._guard = threading.Lock()

    def claim(self, path: str, deadline: float, stop: Optional[Callable[[], bool]] = None) -> Optional[int]:
        """A descriptor holding the lock; None at the deadline; :data:`REPLACED`,
        :data:`NO_THREAD`, or :data:`STOPPED` once `stop` (asked every
        :data:`WriterLock.STOP_POLL` seconds, without the condition held, the claim still
        standing) returned true. Raises what the waiter's ``flock`` raised, and what `stop` raised."""
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
                        outcome = self._park(path)
                        if outcome is not None:
                            return outcome
                    if stop is None:
                        self._condition.wait(min(remaining, threading.TIMEOUT_MAX))
                        continue
                    self._condition.wait(min(remaining, WriterLock.STOP_POLL))
                    if self._handed is not None or self._failure is not None:
                        continue
                    # Still a claimant while `stop` runs: a lock got meanwhile is handed over,
                    # and then left to the other claimants, or released by the last one (below).
                    self._condition.release()
                    try:
                        stopping = stop()
                    finally:
                        self._condition.acquire()
                    if stopping:
                        return self.STOPPED
            finally:
                self._claimants -= 1
                if self._claimants == 0:
                    self._failure = None  # it was for the claimants that left
                    if self._handed is not None:
                        # Handed over to a claimant that left (an exception in its wait): nobody
                        # takes it any more, so the lock must not stay held.
                        fd, self._handed = self._handed, None
                        _unlock_and_close(fd)

    def _park(self, path: str) -> Optional[int]:
        """With the condition held: opens the waiter's own descriptor of the same inode and starts
        the thread that blocks on it; None once it runs, else why not (:data:`REPLACED`,
        :data:`NO_THREAD`)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.ELOOP):
                return self.REPLACED  # the name holds another file now, or none
            raise  # out of descriptors, say: a failure to lock, not a reason to try again at once
        self._parked_fd = fd  # from here on a fork's child knows to close its copy
        try:
            status = os.fstat(fd)
            if (status.st_dev, status.st_ino) != self._key:
                return self.REPLACED
            thread = threading.Thread(target=self._wait, args=(fd,), name="statecoordinator-lock-waiter", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # "can't start new thread"; no new threads at interpreter exit
                if thread.ident is None:
                    return self.NO_THREAD
                fd = -1
                raise
            except BaseException:
                if thread.ident is not None:
                    fd = -1  # it started (the exception came while start() waited for it): it owns fd
                raise
            fd = -1  # the thread's now
            return None
        finally:
            if fd >= 0:
                self._parked_fd = -1
                os.close(fd)

    def _wait(self, fd: int) -> None:
        failure: Optional[OSError] = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:
            failure = error
        with self._condition:
            if failure is None and self._claimants > 0:
                self._handed = fd  # before the next line: a fork in between still finds it
                self._parked_fd = -1
            else:
                self._parked_fd = -1
                if failure is not None and self._claimants > 0:
                    self._failure = failure
                _unlock_and_close(fd)  # releases the lock, if it was taken, and nobody waits for it
            self._condition.notify_all()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ParkedWaiter.forget_in_child)
