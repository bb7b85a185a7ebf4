"""A store: ``DIR/NAME.json`` beside ``NAME.lock``, shared by Swift, Python and ``statectl``."""

import copy
import errno
import os
import secrets
import socket
import stat
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from . import _combining, _format, _json, _pointer, _schema
from ._format import Snapshot, Writer
from ._lock import WriterLock
from .errors import Conflict, Corrupt, NotFound, StateCoordinatorError

if TYPE_CHECKING:
    from .reader import Gap, Reader
    from .registry import AcknowledgementReport, RegisteredReader

__all__ = ["Store", "HistoryEntry"]

#: The default largest state, as the Swift library's.
DEFAULT_MAXIMUM_STATE_BYTES = 64 << 20
#: The most past versions a store may keep.
LARGEST_KEEP_HISTORY = 1_000_000


@dataclass(frozen=True)
class HistoryEntry:
    """A kept past version: its number, commit time and writer (read from its header)."""

    version: int
    committed_at: datetime
    writer: Writer


def _default_label() -> str:
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else ""
    return _check_label(base or "python", fallback=True)


def _check_label(label: str, fallback: bool = False) -> str:
    ok = 0 < len(label.encode("utf-8")) <= 200 and all(ch.isprintable() for ch in label)
    if ok:
        return label
    if fallback:
        return "python"
    raise StateCoordinatorError("writer label %r is not allowed." % label,
                                hint="Use 1 to 200 bytes without control characters, for example the bot's name.")


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """An existing store, for reading and committing.

    Args:
        directory: the directory holding ``NAME.json`` and ``NAME.lock``.
        name: the store's name (``NAME``).
        label: the writer label recorded in each version this object commits (default: the
            program's name).

    Raises:
        NotFound: there is no store of that name there; a plain JSON file in its place is named,
            with how to import it.
        Corrupt: the state file is not one of this format.
    """

    def __init__(self, directory: str, name: str = "state", *, label: Optional[str] = None) -> None:
        self.directory = os.path.abspath(directory)
        self.name = name
        self.label = _check_label(label) if label is not None else _default_label()
        if not name or "/" in name or name.startswith("."):
            raise StateCoordinatorError("%r is not a store name." % name, hint="Use a plain file name such as state.")
        self.path = os.path.join(self.directory, name + ".json")
        self.lock_path = os.path.join(self.directory, name + ".lock")
        self.read()  # checks there is a store, and says what is there instead

    # MARK: opening and creating

    @classmethod
    def create(
        cls, directory: str, initial: Any, *, name: str = "state", keep_history: int = 0,
        schema: Optional[Dict[str, Any]] = None, mode: int = 0o640, label: Optional[str] = None,
        maximum_state_bytes: int = DEFAULT_MAXIMUM_STATE_BYTES,
    ) -> "Store":
        """Creates a new store with `initial` as version 0. Raises StateCoordinatorError when one
        (or any file in its place) exists already."""
        return cls._create(directory, initial, name=name, keep_history=keep_history, schema=schema, mode=mode,
                           label=label, maximum_state_bytes=maximum_state_bytes, exist_ok=False)

    @classmethod
    def open_or_create(cls, directory: str, initial: Any, *, name: str = "state", label: Optional[str] = None,
                       keep_history: int = 0, mode: int = 0o640) -> "Store":
        """Opens the store, or creates it with `initial` when there is none: decided under the
        writer lock, so that two processes starting at once make one store."""
        return cls._create(directory, initial, name=name, keep_history=keep_history, schema=None, mode=mode,
                           label=label, maximum_state_bytes=DEFAULT_MAXIMUM_STATE_BYTES, exist_ok=True)

    @classmethod
    def import_plain_json(cls, path: str, directory: str, *, name: Optional[str] = None,
                          label: Optional[str] = None) -> "Store":
        """Makes a store of a plain JSON file (a bot's own ``state.json``). In place (the file is
        ``DIR/NAME.json`` itself) its content is kept as ``NAME.plain.json`` and the store takes
        its place with the file's mode; elsewhere the file is left alone."""
        source = os.path.abspath(path)
        directory = os.path.abspath(directory)
        if name is None:
            base = os.path.basename(source)
            name = base[:-5] if base.endswith(".json") and os.path.dirname(source) == directory else "state"
        try:
            with open(source, "rb") as f:
                data = f.read()
            mode = os.stat(source).st_mode & 0o777
        except OSError as error:
            raise StateCoordinatorError("cannot read %s: %s; nothing was created." % (path, error.strerror), path=path) from None
        try:
            initial = _json.parse(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise StateCoordinatorError("%s is not JSON (%s); nothing was created." % (path, error), path=path) from None
        in_place = source == os.path.join(directory, name + ".json")
        if in_place:
            plain = os.path.join(directory, name + ".plain.json")
            try:
                os.link(source, plain)  # the original, kept; fails if one exists already
            except FileExistsError:
                raise StateCoordinatorError("%s exists already: an earlier import? nothing was created." % plain, path=plain) from None
        try:
            return cls._create(directory, initial, name=name, keep_history=0, schema=None, mode=mode, label=label,
                               maximum_state_bytes=DEFAULT_MAXIMUM_STATE_BYTES, exist_ok=False, replacing_plain=in_place)
        except BaseException:
            if in_place:
                os.unlink(os.path.join(directory, name + ".plain.json"))
            raise

    @classmethod
    def _create(cls, directory: str, initial: Any, *, name: str, keep_history: int, schema: Optional[Dict[str, Any]],
                mode: int, label: Optional[str], maximum_state_bytes: int, exist_ok: bool,
                replacing_plain: bool = False) -> "Store":
        directory = os.path.abspath(directory)
        if not 0 <= keep_history <= LARGEST_KEEP_HISTORY:
            raise StateCoordinatorError("keep_history must be from 0 to %d, not %r." % (LARGEST_KEEP_HISTORY, keep_history))
        if mode & ~0o777:
            raise StateCoordinatorError("mode must be permission bits (0o000 to 0o777), not %o." % mode)
        path = os.path.join(directory, name + ".json")
        lock_path = os.path.join(directory, name + ".lock")
        group_writes_directory = bool(os.stat(directory).st_mode & 0o020)
        lock_mode = 0o600 | (0o060 if (mode & 0o020 or group_writes_directory) else 0)
        made_lock = False
        try:
            fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, lock_mode)
            os.fchmod(fd, lock_mode)
            os.close(fd)
            made_lock = True
        except FileExistsError:
            pass
        committed = False
        try:
            with WriterLock(directory, name, 10.0):
                if os.path.lexists(path) and not replacing_plain:
                    if exist_ok:
                        return cls(directory, name, label=label)
                    raise StateCoordinatorError("%s exists already; nothing was created." % path, path=path,
                                                hint="Open it with Store(directory), or choose another name.")
                settings: Dict[str, Any] = {"keepHistory": keep_history, "maxStateBytes": maximum_state_bytes,
                                            "fileMode": "%04o" % mode}
                if schema is not None:
                    settings["schema"] = _schema.write_schema(directory, name, schema)
                _schema.check(directory, name, settings, initial, what="The first state")
                header: Dict[str, Any] = {
                    "format": _format.FORMAT, "revision": _format.revision_for(settings), "store": str(uuid.uuid4()),
                    "version": 0, "committedAt": _format.timestamp(),
                    "writer": {"pid": os.getpid(), "host": socket.gethostname(),
                               "label": _check_label(label) if label is not None else _default_label()},
                    "settings": settings,
                }
                data = _format.encode(header, initial)
                if header["stateBytes"] > maximum_state_bytes:
                    raise StateCoordinatorError("the first state is %d bytes, more than the limit %d; nothing was created."
                                                % (header["stateBytes"], maximum_state_bytes))
                _replace(directory, name, data, mode, None)
                committed = True
        finally:
            if made_lock and not committed and not (exist_ok and os.path.exists(path)):
                try:
                    os.unlink(lock_path)
                except FileNotFoundError:
                    pass
        return cls(directory, name, label=label)

    # MARK: reading

    def _read_header_and_state(self, path: Optional[str] = None) -> Any:
        return self._read(path or self.path)[1:]

    def _open_temp_for_read_ahead(self, name: str) -> Tuple[int, Tuple[int, int, int, int], Snapshot]:
        """Opens and verifies a writer's closed temp file; returns the descriptor (the caller
        keeps it open: while it is, the inode cannot be reused by another file), what identifies
        the file (device, inode, size, mtime) and its snapshot."""
        path = os.path.join(self.directory, name)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info, header, state = self._read_open(fd, path)
            return fd, (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns), _format.snapshot(header, state)
        except BaseException:
            os.close(fd)
            raise

    def _read(self, path: str) -> Tuple[os.stat_result, Dict[str, Any], Any]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise self._not_found() from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise StateCoordinatorError("%s is a symbolic link: the store never follows one." % path, path=path,
                                            hint="Remove it; someone who may write the directory planted it.") from None
            raise StateCoordinatorError("cannot open %s: %s." % (path, error.strerror), path=path) from None
        try:
            return self._read_open(fd, path)
        finally:
            os.close(fd)

    def _read_open(self, fd: int, path: str) -> Tuple[os.stat_result, Dict[str, Any], Any]:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Corrupt("%s is not a regular file." % path, path=path)
            data = _read_all(fd, info.st_size, _format.MAXIMUM_HEADER + (1 << 30) + 2)
        except OSError as error:
            raise StateCoordinatorError("cannot read %s: %s." % (path, error.strerror), path=path) from None
        if data[:1] != b"{" or b'"format":"statecoordinator"' not in data[: data.find(b"\n") if b"\n" in data else 0]:
            try:
                _json.parse(data)
                plain = True
            except (ValueError, UnicodeDecodeError, RecursionError):
                plain = False
            if plain:
                raise NotFound(
                    "%s is plain JSON, not a store: it has no header, version or checksum." % path, path=path,
                    hint="Import it: Store.import_plain_json(%r, %r) (or statectl --dir %s init --from %s)."
                    % (path, self.directory, self.directory, path))
        header, state = _format.decode(data, path)
        return info, header, state

    def _not_found(self) -> NotFound:
        try:
            names = sorted(n[:-5] for n in os.listdir(self.directory) if n.endswith(".lock"))
        except OSError:
            names = []
        found = (" Stores found there: %s." % ", ".join(names)) if names else ""
        return NotFound('no store "%s" in %s: %s does not exist.%s' % (self.name, self.directory, self.path, found),
                        path=self.path, hint="Create it with Store.create(directory, initial) or statectl init.")

    def read(self) -> Snapshot:
        """The current version, read without any lock and verified (header, size, checksum)."""
        header, state = self._read_header_and_state()
        return _format.snapshot(header, state)

    def history(self) -> List[HistoryEntry]:
        """The kept past versions, oldest first (an empty list when history is off)."""
        folder = os.path.join(self.directory, self.name + ".history")
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and n[:-5].isdigit())
        except FileNotFoundError:
            return []
        entries = []
        for entry in names:
            try:
                header, _ = self._read_header_and_state(os.path.join(folder, entry))
            except StateCoordinatorError:
                continue  # a damaged kept version: statectl history names it
            entries.append(HistoryEntry(header["version"], _format.parse_timestamp(header["committedAt"]),
                                        _format.snapshot(header, None).writer))
        return entries

    def snapshot(self, version: int) -> Snapshot:
        """Version `version`: the current one, or a kept one. NotFound when it is not kept."""
        current = self.read()
        if version == current.version:
            return current
        path = os.path.join(self.directory, self.name + ".history", "%020d.json" % version)
        if not os.path.exists(path):
            raise NotFound("version %d is not kept (current version %d)." % (version, current.version), path=path)
        header, state = self._read_header_and_state(path)
        return _format.snapshot(header, state)

    # MARK: following

    def reader(self, *, label: Optional[str] = None) -> "Reader":
        """A :class:`Reader` following this store on a background thread; registered in the
        reader registry when it has a label (``statectl readers``, ``--await-ack``)."""
        from .reader import Reader
        return Reader(self, label)

    def watch(self, *, after: Optional[int] = None, timeout: Optional[float] = None) -> Iterator[Union[Snapshot, "Gap"]]:
        """Every version in order (see :func:`statecoordinator.reader.watch`)."""
        from .reader import watch
        return watch(self, after=after, timeout=timeout)

    def readers(self) -> List["RegisteredReader"]:
        """The live registered readers that count (the store's ``readerUsers`` when it names any)."""
        from .registry import live_readers
        users = self.read().settings.get("readerUsers")
        return live_readers(self.directory, self.name, set(users) if users else None)

    def wait_for_acknowledgements(self, version: int, readers: Union[str, List[str]] = "all",
                                  timeout: float = 5.0) -> "AcknowledgementReport":
        """Waits until the selected readers (``"all"``, or labels, best ``label@user``) applied
        `version`, rejected it or died, or until `timeout`; returns who did what."""
        from .registry import wait_for_acknowledgements
        snapshot = self.read()
        users = snapshot.settings.get("readerUsers")
        return wait_for_acknowledgements(self.directory, self.name, version, snapshot.store_id, readers, timeout,
                                         set(users) if users else None)

    # MARK: writing

    def update(self, fn: Callable[[Any], Any], *, expect_version: Optional[int] = None,
               lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Commits ``fn(state)``: `fn` gets a private copy of the newest state, under the writer
        lock, and returns the new state (or changes it in place and returns None). An exception
        from `fn` commits nothing and propagates; a new state equal to the old one commits
        nothing and returns the current version.

        Raises:
            Conflict: `expect_version` is given and the store is at another version.
            LockTimeout: the lock was not obtained within `lock_timeout` seconds (None: wait).
            SchemaViolation: the store's schema refuses the new state.
            Corrupt: the current version fails verification (nothing is committed over it).
        """
        with WriterLock(self.directory, self.name, lock_timeout):
            self._sweep_leftovers()
            header, state = self._read_header_and_state()
            self._settle_claims(header)
            if expect_version is not None and header["version"] != expect_version:
                raise Conflict("the store is at version %d, not %d; nothing was committed." % (header["version"], expect_version),
                               current_version=header["version"], path=self.path,
                               hint="Read it again and decide on the newest version.")
            working = copy.deepcopy(state)
            returned = fn(working)
            new_state = working if returned is None else returned
            if _format.same(new_state, state):
                return _format.snapshot(header, state)
            return self._commit(header, new_state, combined=[])

    def replace(self, state: Any, *, expect_version: Optional[int] = None, lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Commits `state` as it is."""
        return self.apply({"op": "replace", "value": state}, expect_version=expect_version, lock_timeout=lock_timeout)

    def set(self, pointer: str, value: Any, *, expect_version: Optional[int] = None, lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Sets the value at a JSON Pointer, creating missing parent objects (``-`` appends to an array)."""
        return self.apply({"op": "set", "path": pointer, "value": value}, expect_version=expect_version, lock_timeout=lock_timeout)

    def delete(self, pointer: str, *, expect_version: Optional[int] = None, lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Removes the value at a JSON Pointer (it must exist)."""
        return self.apply({"op": "delete", "path": pointer}, expect_version=expect_version, lock_timeout=lock_timeout)

    def incr(self, pointer: str, by: float = 1, *, expect_version: Optional[int] = None,
             lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Adds `by` to the number at a JSON Pointer (a missing member counts as 0)."""
        return self.apply({"op": "incr", "path": pointer, "by": by}, expect_version=expect_version, lock_timeout=lock_timeout)

    def apply(self, mutation: Dict[str, Any], *, expect_version: Optional[int] = None,
              lock_timeout: Optional[float] = 5.0) -> Snapshot:
        """Commits a declarative mutation, in its JSON form (``{"op": "set", "path": "/halt",
        "value": True}``; ops ``set``, ``delete``, ``incr``, ``merge``, ``replace``, and ``patch``
        for a JSON Patch, which only a Swift holder applies). While another process holds the
        lock, the mutation is published for that holder to commit with its own (combining: one
        fsync for all), and this call returns once it is committed, by either; exactly once.

        Returns the snapshot of the version that includes it.

        Raises:
            MutationFailed: it could not be applied (a missing member, a value that is not a number).
            Conflict, LockTimeout, SchemaViolation, Corrupt: as :meth:`update`.
            OutcomeUnknown: the holder that took it died, and no version can tell whether it was
                committed (read the state before retrying).
        """
        if not isinstance(mutation, dict) or not isinstance(mutation.get("op"), str):
            raise _combining.MutationFailed("malformed", "a mutation is an object with an \"op\"")
        lock = WriterLock.try_acquire(self.directory, self.name)
        own: Optional[str] = None
        if lock is None:
            waited = self._publish_and_wait(mutation, expect_version, lock_timeout)
            if isinstance(waited, Snapshot):
                return waited
            lock, own = waited
        with lock:
            return self._commit_combining(mutation, expect_version, own)

    def _queue(self) -> "_combining.Queue":
        return _combining.Queue(self.directory, self.name)

    def _kept_header(self, version: int) -> Optional[Dict[str, Any]]:
        try:
            return self._read(os.path.join(self.directory, self.name + ".history", "%020d.json" % version))[1]
        except StateCoordinatorError:
            return None

    def _store_mode(self) -> int:
        try:
            return stat.S_IMODE(os.stat(self.path, follow_symlinks=False).st_mode)
        except OSError:
            return 0o600

    def _store_gid(self) -> Optional[int]:
        try:
            return os.stat(self.path, follow_symlinks=False).st_gid
        except OSError:
            return None

    def _settle_claims(self, header: Dict[str, Any]) -> None:
        queue = self._queue()
        if queue.exists(self._store_mode(), self._store_gid()):
            _combining.settle(queue, header, self.path, self._kept_header)

    def _collect(self, queue: "_combining.Queue", ident: str) -> Optional[Snapshot]:
        """The answer to `ident` (removed once read): its snapshot, or its error raised."""
        done = queue.answer_path(ident, "done")
        try:
            _, header, state = self._read(done)
        except NotFound:
            pass
        except StateCoordinatorError as error:
            if os.path.lexists(done):
                raise StateCoordinatorError(
                    "another process committed this update, but the version it linked as the answer could not be read (%s)." % error,
                    path=done, hint="Do not retry it; read the current state.") from None
        else:
            os.unlink(done)
            return _format.snapshot(header, state)
        failed = queue.answer_path(ident, "failed")
        try:
            fd = os.open(failed, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            data = os.read(fd, 1 << 20)
        finally:
            os.close(fd)
        os.unlink(failed)
        raise _combining.error_from_answer(data, failed)

    def _publish_and_wait(self, mutation: Dict[str, Any], expect_version: Optional[int],
                          lock_timeout: Optional[float]) -> Union[Snapshot, Tuple[WriterLock, Optional[str]]]:
        queue = self._queue()
        ident = _combining.new_id()
        try:
            mode = self._store_mode()
            queue.ensure(mode, self._store_gid())
            if queue.answers_dir(ident, True) is None:
                raise OSError(errno.EIO, "no answers directory")
            queue.publish(ident, mutation, expect_version, mode)
        except (OSError, StateCoordinatorError):
            # Not published: this writer commits it itself once it has the lock.
            return WriterLock(self.directory, self.name, lock_timeout), None
        start = time.monotonic()
        deadline = None if lock_timeout is None else start + max(0.0, lock_timeout)
        # First the answer alone, for a moment: the holder of the moment takes the request with
        # its next commit.
        pause = 0.0002
        while True:
            answered = self._collect(queue, ident)
            if answered is not None:
                return answered
            now = time.monotonic()
            if now - start >= _combining.ANSWER_WINDOW or (deadline is not None and now >= deadline):
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
        # Then the lock or the answer, whichever comes first: waiting in `flock` (a writer that
        # polled for the lock beside plain writers blocked in `flock` was starved until its
        # timeout), looking for the answer every 2 ms.
        found: List[Snapshot] = []
        refused: List[BaseException] = []

        def answered_meanwhile() -> bool:
            try:
                got = self._collect(queue, ident)
            except BaseException as error:  # answered "failed", or an answer that cannot be read: the caller's error
                refused.append(error)
                return True
            if got is not None:
                found.append(got)
            return got is not None

        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            lock = WriterLock.unless(self.directory, self.name, remaining, answered_meanwhile)
        except BaseException:
            # The lock could not be waited for (its flock failed, the lockfile went, an interrupt):
            # what we published must not be committed after the caller hears this. Withdrawn, it
            # never will be; taken by a holder, it is waited for below, like a timed-out wait's.
            if queue.withdraw(ident) or not isinstance(sys.exc_info()[1], Exception):
                raise
            lock = None
        if refused:
            raise refused[0]
        if found:
            return found[0]
        if lock is not None:
            return lock, ident
        # Timed out: withdraw it (then it is never committed), or wait for the holder that took it.
        if queue.withdraw(ident):
            return WriterLock(self.directory, self.name, 0), None  # raises LockTimeout naming the holder, unless free now
        until = time.monotonic() + (lock_timeout or 0)
        while time.monotonic() < until:
            answered = self._collect(queue, ident)
            if answered is not None:
                return answered
            time.sleep(0.002)
        raise _combining.OutcomeUnknown(
            "a lock holder took this update and did not answer within the lock timeout; it may still commit it.",
            path=self.path, hint="Read the state before retrying; and look at the lock's holder, which may be stopped.")

    def _commit_combining(self, mutation: Dict[str, Any], expect_version: Optional[int], own: Optional[str]) -> Snapshot:
        """With the lock: settle what dead holders left, answer or withdraw our own request, apply
        ours, take the others' published requests, commit once, answer them."""
        self._sweep_leftovers()
        header, state = self._read_header_and_state()
        queue = self._queue()
        combining = queue.exists(self._store_mode(), self._store_gid())
        if combining:
            _combining.settle(queue, header, self.path, self._kept_header)
        if own is not None:
            answered = self._collect(queue, own)
            if answered is not None:
                return answered
            if not queue.withdraw(own):
                raise _combining.OutcomeUnknown("this update's request left the queue unanswered.", path=self.path,
                                                hint="Read the state before retrying.")
        if expect_version is not None and header["version"] != expect_version:
            raise Conflict("the store is at version %d, not %d; nothing was committed." % (header["version"], expect_version),
                           current_version=header["version"], path=self.path, hint="Read it again and decide on the newest version.")
        ours = _combining.apply(state, mutation)
        new_state = ours
        base = header["version"]
        taken: List[str] = []
        if combining:
            limit = int(header["settings"].get("maxStateBytes", DEFAULT_MAXIMUM_STATE_BYTES)) + (64 << 10)
            for ident, kind, _ in queue.entries():
                if kind != "req" or len(taken) >= 256:
                    continue
                request = queue.claim(ident, base, limit)
                if not request:
                    continue
                if request["mutation"].get("op") not in _combining.APPLIED_OPS or request.get("expectedVersion") is not None:
                    queue.unclaim(ident, base)  # for a Swift holder, or one with nothing before it
                    continue
                try:
                    new_state = _combining.apply(new_state, request["mutation"])
                except _combining.MutationFailed as error:
                    queue.answer_failed(ident, base, {"outcome": "not committed",
                                                      "mutationError": {"kind": error.kind, "reason": error.reason}})
                    continue
                except Exception as error:  # a request no participant could apply (a path that is not a string, …)
                    queue.answer_failed(ident, base, {"outcome": "not committed",
                                                      "mutationError": {"kind": "malformed", "reason": "%s" % error}})
                    continue
                taken.append(ident)
        if _format.same(new_state, state) and not taken:
            return _format.snapshot(header, state)
        # With requests taken a version is written even when nothing changed (+1 and -1): each is
        # then committed in a version that lists it, never answered with no version to show.
        try:
            snapshot = self._commit(header, new_state, combined=taken)
        except StateCoordinatorError:
            if not taken:
                raise
            # The combined state was refused: the others go back to the queue; ours is committed alone.
            for ident in taken:
                queue.unclaim(ident, base)
            taken = []
            if _format.same(ours, state):
                return _format.snapshot(header, state)
            snapshot = self._commit(header, ours, combined=[])
        for ident in taken:
            try:
                queue.answer_committed(ident, base, self.path)
            except OSError:
                pass  # left claimed or marked: the next holder settles it from the header
        return snapshot

    def _sweep_leftovers(self) -> None:
        """Removes temp files left by writers that died mid-commit (we hold the lock)."""
        prefix = "." + self.name + ".tmp-"
        for leftover in os.listdir(self.directory):
            if leftover.startswith(prefix):
                try:
                    os.unlink(os.path.join(self.directory, leftover))
                except FileNotFoundError:
                    pass

    def _commit(self, header: Dict[str, Any], state: Any, combined: Optional[List[str]] = None) -> Snapshot:
        settings = header["settings"]  # copied forward as found, members this package does not know included
        try:
            _json.dump(state)
        except (TypeError, ValueError) as error:
            raise StateCoordinatorError("the new state is not JSON (%s); nothing was committed." % error) from None
        _schema.check(self.directory, self.name, settings, state)
        new = dict(header)
        if combined is not None:
            # This version lists what it combined; without combining the list is carried forward
            # as found (it stays true: what it names is in the state).
            new.pop("combined", None)
            if combined:
                new["combined"] = list(combined)
        new.update(revision=max(_format.revision_for(settings), 1), version=header["version"] + 1,
                   committedAt=_format.timestamp(),
                   writer={"pid": os.getpid(), "host": socket.gethostname(), "label": self.label})
        data = _format.encode(new, state)
        limit = settings.get("maxStateBytes", DEFAULT_MAXIMUM_STATE_BYTES)
        if new["stateBytes"] > limit:
            raise StateCoordinatorError("the new state is %d bytes, more than the store's limit %d; nothing was committed."
                                        % (new["stateBytes"], limit), hint="Keep the state smaller.")
        current = os.stat(self.path, follow_symlinks=False)
        self._keep_history(header, settings)
        _replace(self.directory, self.name, data, stat.S_IMODE(current.st_mode), current)
        return _format.snapshot(new, state)

    def _keep_history(self, header: Dict[str, Any], settings: Dict[str, Any]) -> None:
        keep = int(settings.get("keepHistory", 0))
        age = settings.get("keepHistorySeconds")
        if keep <= 0 and not age:
            return
        folder = os.path.join(self.directory, self.name + ".history")
        try:
            os.mkdir(folder)
            mode = int(settings.get("fileMode", "0640"), 8)
            os.chmod(folder, mode | ((mode & 0o444) >> 2) | (os.stat(self.directory).st_mode & stat.S_ISGID))
        except FileExistsError:
            pass
        kept = os.path.join(folder, "%020d.json" % header["version"])
        try:
            os.unlink(kept)  # left by a writer that died before its rename
        except FileNotFoundError:
            pass
        os.link(self.path, kept)
        entries = sorted(n for n in os.listdir(folder) if n.endswith(".json") and n[:-5].isdigit())
        now = time.time()
        excess = max(0, len(entries) - keep)
        for old in entries[: max(excess, len(entries) - LARGEST_KEEP_HISTORY)]:
            old_path = os.path.join(folder, old)
            if age and len(entries) <= LARGEST_KEEP_HISTORY and os.stat(old_path).st_mtime >= now - age:
                break
            os.unlink(old_path)


def _read_all(fd: int, expected: int, limit: int) -> bytes:
    """The file's bytes up to `limit`: one read of the size fstat gave (and one more to see its
    end), more only if the file grew."""
    chunks = []
    total = 0
    want = min(expected + 1, limit)
    while total < limit:
        chunk = os.read(fd, max(1, min(want, limit - total)))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 20
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _create_temp(directory: str, name: str) -> Tuple[int, str]:
    """A new temp file ``.NAME.tmp-RANDOM`` in the directory (O_EXCL, never through a link)."""
    for _ in range(100):
        temp = os.path.join(directory, ".%s.tmp-%s" % (name, secrets.token_hex(8)))
        try:
            return os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600), temp
        except FileExistsError:
            continue
    raise StateCoordinatorError("cannot create a temp file in %s: every name tried exists." % directory, path=directory)


def _replace(directory: str, name: str, data: bytes, mode: int, replaced: Optional[os.stat_result]) -> None:
    """Temp file in the directory (random name, O_EXCL), written, closed, fsynced, checked to be
    still named, renamed over NAME.json, directory fsynced.

    As the Swift library does, the temp file is closed before its fsync, which goes through a
    read-only descriptor of the same file opened first: its IN_CLOSE_WRITE tells readers the
    version is complete, and they read it during the fsync, ahead of the rename."""
    fd, temp = _create_temp(directory, name)
    sync_fd = -1
    try:
        try:
            sync_fd = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            sync_fd = -1  # no /proc: fsync before the close
        try:
            os.fchmod(fd, mode)
            if replaced is not None and os.geteuid() == 0:
                os.fchown(fd, replaced.st_uid, replaced.st_gid)  # root keeps the file's owner
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync_fd < 0:
                os.fsync(fd)
            written = os.fstat(fd)
        finally:
            os.close(fd)
        if sync_fd >= 0:
            os.fsync(sync_fd)
        named = os.stat(temp, follow_symlinks=False)
        if not os.path.samestat(written, named):
            raise StateCoordinatorError("the temp file %s was replaced by someone else before the rename; nothing was committed."
                                        % temp, path=temp, hint="Only writers may write the store's directory.")
        os.replace(temp, os.path.join(directory, name + ".json"))
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    finally:
        if sync_fd >= 0:
            os.close(sync_fd)
    _fsync_directory(directory)
