"""inotify through libinotifytools (Debian ``libinotifytools0``), the library the Swift side uses,
loaded with ctypes: no compiled extension, no PyPI dependency.

libinotifytools keeps one process-global inotify instance and is not thread-safe, so, as in the
Swift library's WatchHub, one daemon thread owns it: it adds watches on request (reference-counted
per directory) and fans events out to the subscribers of each directory. The thread blocks in
``inotifytools_next_event``; to wake it for a new subscription it also watches its own pipe
(through ``/proc/self/fd``): a byte written there is an ``IN_MODIFY`` event. A directory whose
watch the kernel dropped (deleted, moved) makes the hub re-create the instance before it is
watched again, since the library keeps a record of the dead watch; subscribers then hear "lost"
and resynchronize by reading the state file again.
"""

import ctypes
import ctypes.util
import os
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

__all__ = ["Hub", "available", "IN_MOVED_TO", "IN_CREATE", "IN_CLOSE_WRITE", "IN_DELETE"]

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
#: What a reader needs: a version renamed in (also by renameat2's exchange), a file closed after
#: writing (a writer's temp file, complete: the reader reads it ahead of its rename), the state
#: file deleted, the directory gone. Not IN_CREATE: every commit's temp file makes one, and each
#: event wakes the hub thread (about 50 µs of a Python process's CPU on the project's machine).
#: A state file linked into place is seen by the reader's safety-net look within a second.
DIRECTORY_MASK = IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR

#: (event kind, file name): kind is "changed" (renamed in or deleted; name given), "written" (closed
#: after writing; name given), "overflow" or "lost".
Event = Tuple[str, Optional[str]]
Handler = Callable[[Event], None]


class _InotifyEvent(ctypes.Structure):
    _fields_ = [("wd", ctypes.c_int), ("mask", ctypes.c_uint32), ("cookie", ctypes.c_uint32), ("len", ctypes.c_uint32)]


def _load() -> Optional[ctypes.CDLL]:
    for name in ("libinotifytools.so.0", ctypes.util.find_library("inotifytools") or ""):
        if not name:
            continue
        try:
            library = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        library.inotifytools_initialize.restype = ctypes.c_int
        library.inotifytools_cleanup.restype = None
        library.inotifytools_error.restype = ctypes.c_int
        library.inotifytools_watch_file.argtypes = [ctypes.c_char_p, ctypes.c_int]
        library.inotifytools_watch_file.restype = ctypes.c_int
        library.inotifytools_wd_from_filename.argtypes = [ctypes.c_char_p]
        library.inotifytools_wd_from_filename.restype = ctypes.c_int
        library.inotifytools_next_event.argtypes = [ctypes.c_long]
        library.inotifytools_next_event.restype = ctypes.POINTER(_InotifyEvent)
        return library
    return None


_library = _load()


#: Set in a child forked after this process used inotify: the library's process-global instance
#: (its descriptor shared with the parent, its tables copied mid-use) is not the child's to use,
#: and the hub's thread did not survive the fork. Readers in such a child poll.
_forked_after_use = False


def _after_fork_in_child() -> None:
    global _forked_after_use
    if Hub._shared is not None:
        _forked_after_use = True
        Hub._shared = None
        Hub._shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def available() -> bool:
    """Whether readers can use inotify: libinotifytools loaded, and not a child forked after
    this process used it (else readers poll)."""
    return _library is not None and not _forked_after_use


def _deliver(handler: Handler, event: Event) -> None:
    """Calls a subscriber on the hub thread; whatever it raises must not end the thread that
    every reader of the process depends on (a subscriber keeps its own safety net)."""
    try:
        handler(event)
    except Exception:
        pass


class Hub:
    """The process's one owner of libinotifytools."""

    _shared: Optional["Hub"] = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> "Hub":
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = Hub()
            return cls._shared

    def __init__(self) -> None:
        if _library is None:
            raise OSError("libinotifytools is not installed (Debian: libinotifytools0)")
        self._lock = threading.Lock()
        self._commands: List[Tuple[str, Any]] = []
        self._subscribers: Dict[str, Dict[int, Handler]] = {}
        self._watches: Dict[int, str] = {}
        self._lost: Set[str] = set()
        self._next_id = 0
        self._read_end, self._write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._pipe_wd = -1
        self._ready = threading.Event()
        self._failure: Optional[OSError] = None
        thread = threading.Thread(target=self._run, name="statecoordinator-inotify", daemon=True)
        thread.start()
        self._ready.wait()
        if self._failure:
            raise self._failure

    def subscribe(self, directory: str, handler: Handler) -> int:
        """Calls `handler` (on the hub thread: hand work off at once) for each event of `directory`."""
        done = threading.Event()
        result: List[object] = []
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            self._commands.append(("subscribe", (ident, directory, handler, done, result)))
        os.write(self._write_end, b"s")
        done.wait()
        if result and isinstance(result[0], OSError):
            raise result[0]
        return ident

    def is_lost(self, ident: int) -> bool:
        """Whether the directory of subscription `ident` has no live watch (it was deleted or
        moved): its subscriber should subscribe again once the directory exists."""
        watched = set(self._watches.values())  # a copy, taken in one step under the GIL
        for directory, handlers in list(self._subscribers.items()):
            if ident in handlers:
                return directory not in watched
        return True

    def unsubscribe(self, ident: int) -> None:
        with self._lock:
            self._commands.append(("unsubscribe", ident))
        os.write(self._write_end, b"u")

    # The hub thread.

    def _initialize(self) -> None:
        assert _library is not None
        if _library.inotifytools_initialize() == 0:
            raise OSError(_library.inotifytools_error(), "inotifytools_initialize failed")
        pipe = ("/proc/self/fd/%d" % self._read_end).encode()
        # watch_file answers 1 or 0; the watch descriptor is looked up by name.
        if _library.inotifytools_watch_file(pipe, IN_MODIFY) != 1:
            raise OSError(_library.inotifytools_error(), "cannot watch the hub's wake pipe")
        self._pipe_wd = _library.inotifytools_wd_from_filename(pipe)

    def _watch(self, directory: str) -> int:
        assert _library is not None
        if _library.inotifytools_watch_file(directory.encode(), DIRECTORY_MASK) != 1:
            error = _library.inotifytools_error()
            raise OSError(error, "cannot watch %s: %s" % (directory, os.strerror(error)))
        wd = int(_library.inotifytools_wd_from_filename(directory.encode()))
        if wd < 0:  # the library records a directory with a trailing slash
            wd = int(_library.inotifytools_wd_from_filename((directory.rstrip("/") + "/").encode()))
        if wd < 0:
            raise OSError(0, "cannot find the watch of %s" % directory)
        return wd

    def _recreate(self) -> None:
        """A fresh instance, every live directory watched again, their subscribers told "lost"."""
        assert _library is not None
        _library.inotifytools_cleanup()
        self._initialize()
        self._watches.clear()
        self._lost.clear()
        for directory, handlers in list(self._subscribers.items()):
            try:
                self._watches[self._watch(directory)] = directory
            except OSError:
                pass
            for handler in list(handlers.values()):
                handler(("lost", None))

    def _run(self) -> None:
        assert _library is not None
        try:
            self._initialize()
        except OSError as error:
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        while True:
            pointer = _library.inotifytools_next_event(-1)
            if not pointer:
                continue
            event = pointer.contents
            name: Optional[str] = None
            if event.len:
                raw = ctypes.string_at(ctypes.addressof(event) + ctypes.sizeof(_InotifyEvent), event.len)
                name = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if event.wd == self._pipe_wd:
                try:
                    os.read(self._read_end, 4096)
                except BlockingIOError:
                    pass
                self._perform_commands()
                continue
            if event.mask & IN_Q_OVERFLOW:
                for handlers in self._subscribers.values():
                    for handler in list(handlers.values()):
                        _deliver(handler, ("overflow", None))
                continue
            directory = self._watches.get(event.wd)
            if directory is None:
                continue
            handlers = self._subscribers.get(directory, {})
            if event.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                self._lost.add(directory)
                del self._watches[event.wd]
                for handler in list(handlers.values()):
                    _deliver(handler, ("lost", None))
                continue
            kind = "written" if event.mask & IN_CLOSE_WRITE else "changed"
            for handler in list(handlers.values()):
                _deliver(handler, (kind, name))

    def _perform_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for kind, payload in commands:
            if kind == "subscribe":
                ident: int = payload[0]
                directory: str = payload[1]
                handler: Handler = payload[2]
                done: threading.Event = payload[3]
                result: List[object] = payload[4]
                try:
                    if directory not in self._watches.values():
                        if directory in self._lost:
                            self._recreate()
                        if directory not in self._watches.values():
                            self._watches[self._watch(directory)] = directory
                    self._subscribers.setdefault(directory, {})[ident] = handler
                except OSError as error:
                    result.append(error)
                done.set()
            else:
                for handlers in self._subscribers.values():
                    handlers.pop(payload, None)
