"""Following a store: a background Reader (inotify through libinotifytools, with a periodic
safety-net look, as the Swift StateReader), and ``watch``, an iterator of every version."""

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Tuple, Union

from . import _inotify
from ._format import Snapshot
from .errors import StateCoordinatorError
from .registry import Registration

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Reader", "Gap", "watch"]

#: How often a reader looks at the state file even without a notification (a lost event, an
#: unwatchable file system).
SAFETY_NET_SECONDS = 1.0
#: The polling period when libinotifytools is missing.
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Gap:
    """Versions `first` to `last` that a watch could not deliver (no longer kept)."""

    first: int
    last: int


#: Asks the reader's thread to read the state file (a timer, a lost watch).
_RELOAD = object()


class Reader:
    """Follows a store and keeps its newest verified version.

    One thread per process owns inotify (libinotifytools); when the state file is renamed over,
    that thread reads and verifies the new version at once, stores it and wakes the threads
    waiting in :meth:`wait_until`: one thread hand-off from the kernel to a waiting bot. A
    writer that closes its temp file before the fsync (the Swift library does) gives it the
    fsync's time to read and verify the version ahead: at the rename it then only checks, by
    ``stat``, that the state file is the very file it read (device, inode, size, mtime). The
    reader's own thread runs the rest, never on the inotify thread: `on_version`, the registry's
    "loaded" marks, the safety-net look every second (a lost notification), polling where inotify
    is missing, and watching a directory deleted and re-created.

    With a label it registers in the store's reader registry, so ``statectl readers`` and
    ``--await-ack`` see it; call :meth:`acknowledge` once the application applied a version.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, store: "Store", label: Optional[str] = None,
                 on_version: Optional[Callable[[Snapshot], None]] = None) -> None:
        self.store = store
        self._on_version = on_version
        self._condition = threading.Condition()
        self._reloading = threading.Lock()  # one read at a time: an older read never lands last
        #: A version read from a writer's closed temp file, before its rename: (descriptor, file
        #: key, snapshot). The descriptor stays open until the entry is used or dropped, so that
        #: the inode cannot be freed and reused by another file with the same size and mtime.
        self._ahead: Optional[Tuple[int, Tuple[int, int, int, int], Snapshot]] = None
        self._current = store.read()
        self._closed = False
        self._inbox: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self.problem: Optional[StateCoordinatorError] = None
        self.registration: Optional[Registration] = None
        if label is not None:
            try:
                self.registration = Registration(store.directory, store.name, label)
                self.registration.mark("loaded", self._current.version, self._current.store_id)
            except OSError as error:
                # Reads all the same, unregistered (the registry is not writable here).
                self.problem = StateCoordinatorError("reader %r reads unregistered: %s" % (label, error))
        self._subscription: Optional[int] = None
        self._subscribe()
        self._thread = threading.Thread(target=self._run, name="statecoordinator-reader", daemon=True)
        self._thread.start()

    def _subscribe(self) -> None:
        if not _inotify.available():
            return
        target = self.store.name + ".json"
        temp_prefix = "." + self.store.name + ".tmp-"

        def handler(event: "_inotify.Event") -> None:  # on the inotify thread
            if self._closed:
                return
            kind, name = event
            if kind == "changed":
                if name == target:
                    self._reload()
            elif kind == "written":
                if name == target:
                    self._reload()  # written in place: not the protocol, but read all the same
                elif name is not None and name.startswith(temp_prefix):
                    self._read_ahead(name)
            elif kind == "overflow":
                self._reload(trust_read_ahead=False)
            else:  # "lost": the directory went away; the reader's thread watches it again
                self._inbox.put(_RELOAD)

        try:
            self._subscription = _inotify.Hub.shared().subscribe(self.store.directory, handler)
        except OSError:
            self._subscription = None

    def _run(self) -> None:
        while not self._closed:
            watching = (self._subscription is not None and _inotify.available()
                        and not _inotify.Hub.shared().is_lost(self._subscription))
            period = SAFETY_NET_SECONDS if watching else POLL_SECONDS
            try:
                item = self._inbox.get(timeout=period)
            except queue.Empty:
                item = _RELOAD
            if self._closed:
                return
            if item is _RELOAD:
                self._watch_again_if_lost()
                self._reload(trust_read_ahead=False)
            else:
                self._deliver(item)  # type: ignore[arg-type]

    def _watch_again_if_lost(self) -> None:
        """After the directory's watch was lost (deleted, moved): once a directory of that name
        exists again, a new subscription replaces the old one."""
        if not _inotify.available():
            return
        hub = _inotify.Hub.shared()
        if self._subscription is not None and not hub.is_lost(self._subscription):
            return
        if not os.path.isdir(self.store.directory):
            return
        if self._subscription is not None:
            hub.unsubscribe(self._subscription)
            self._subscription = None
        self._subscribe()

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            os.close(self._ahead[0])
            self._ahead = None

    def _read_ahead(self, name: str) -> None:
        """Reads and verifies a writer's closed temp file, to be taken at its rename if the state
        file is then this very file. Anything odd: nothing kept, the rename reads as usual."""
        with self._reloading:
            self._drop_ahead()
            if self._closed:
                return  # close() dropped what was read ahead; nothing may be opened after it
            try:
                fd, key, snapshot = self.store._open_temp_for_read_ahead(name)
            except Exception:
                return  # gone already, damaged, foreign: the rename's own read decides
            current = self._current
            if snapshot.store_id == current.store_id and snapshot.version > current.version:
                self._ahead = (fd, key, snapshot)
            else:
                os.close(fd)

    def _reload(self, trust_read_ahead: bool = True) -> None:
        """Reads the state file (or takes the version read ahead, if the state file is that
        file); a new version becomes current at once, and its callback and mark are handed to
        the reader's thread, in the order the versions became current."""
        with self._reloading:
            ahead, self._ahead = self._ahead, None
            snapshot: Optional[Snapshot] = None
            if ahead is not None:
                try:
                    if trust_read_ahead:
                        info = os.stat(self.store.path, follow_symlinks=False)
                        if (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) == ahead[1]:
                            snapshot = ahead[2]
                except OSError:
                    pass
                finally:
                    os.close(ahead[0])
            try:
                if snapshot is None:
                    snapshot = self.store.read()
            except StateCoordinatorError as error:
                self.problem = error  # keep the last good version; a damaged file is said, not delivered
                return
            except (OSError, ValueError, RecursionError) as error:
                self.problem = StateCoordinatorError("cannot read %s: %s" % (self.store.path, error), path=self.store.path)
                return
            self.problem = None
            with self._condition:
                current = self._current
                if snapshot.store_id == current.store_id and snapshot.version <= current.version:
                    return  # nothing new
                self._current = snapshot
                self._condition.notify_all()
            if self._on_version is not None or self.registration is not None:
                self._inbox.put(snapshot)  # under the lock: handed on in the order they became current

    def _deliver(self, snapshot: Snapshot) -> None:
        if self.registration is not None:
            try:
                self.registration.mark("loaded", snapshot.version, snapshot.store_id)
            except OSError:
                pass
        if self._on_version is not None:
            self._on_version(snapshot)

    @property
    def current(self) -> Snapshot:
        """The newest version seen (a shared object: copy its state before changing it)."""
        with self._condition:
            return self._current

    def wait_until(self, predicate: Callable[[Snapshot], bool], timeout: Optional[float] = None) -> Snapshot:
        """Blocks until a version satisfies `predicate`; raises TimeoutError after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while not predicate(self._current):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no version satisfied the condition within %g s (current version %d)" % (timeout or 0, self._current.version))
                self._condition.wait(remaining if remaining is not None else 1.0)
            return self._current

    def acknowledge(self, version: Optional[int] = None) -> None:
        """Tells writers waiting for acknowledgements that the application applied `version`
        (default: the current one) and every older one."""
        snapshot = self.current
        if self.registration is not None:
            self.registration.mark("applied", snapshot.version if version is None else version, snapshot.store_id)

    def reject(self, version: int, reason: str) -> None:
        """Tells waiting writers that this reader cannot use `version`, and why."""
        if self.registration is not None:
            self.registration.mark("rejected", version, self.current.store_id, reason)

    def close(self) -> None:
        """Stops following and removes the registry entry."""
        if self._closed:
            return
        self._closed = True
        self._inbox.put(_RELOAD)
        if self._subscription is not None and _inotify.available():  # not a forked child's copy
            _inotify.Hub.shared().unsubscribe(self._subscription)
        with self._reloading:
            self._drop_ahead()
        if self.registration is not None:
            self.registration.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watch(store: "Store", *, after: Optional[int] = None, timeout: Optional[float] = None) -> Iterator[Union[Snapshot, Gap]]:
    """Every version in order: those after `after` first (from history; a :class:`Gap` for those
    no longer kept), then each new one as it is committed. The versions are read as they arrive
    (on the process's inotify thread, or the reader's own), whether or not the caller is iterating; a version replaced before it
    could be read comes from history, or as a Gap. Without `after`, starts with the current
    version. Ends when `timeout` seconds pass without a new version."""
    arrived: "queue.Queue[Snapshot]" = queue.Queue()
    reader = Reader(store, on_version=arrived.put)
    try:
        current = reader.current
        if after is None:
            yield current
            last, store_id = current.version, current.store_id
        else:
            last, store_id = after, current.store_id
            arrived.put(current)
        while True:
            try:
                newest = arrived.get(timeout=timeout)
            except queue.Empty:
                return
            if newest.store_id != store_id:  # re-created: a new numbering
                store_id, last = newest.store_id, newest.version
                yield newest
                continue
            if newest.version <= last:
                continue
            version = last + 1
            while version < newest.version:
                try:
                    yield store.snapshot(version)
                    version += 1
                except StateCoordinatorError:
                    first = version
                    while version < newest.version and not os.path.exists(
                            os.path.join(store.directory, store.name + ".history", "%020d.json" % version)):
                        version += 1
                    yield Gap(first, version - 1)
            yield newest
            last = newest.version
    finally:
        reader.close()
