"""The reader registry (``NAME.readers/``): registering a reader, marking the versions it loads,
applies and rejects, listing live readers, and waiting for acknowledgements. The protocol
article specifies it; this is the Python side of the same files."""

import errno
import fcntl
import os
import secrets
import socket
import stat
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Union

from . import _json
from ._lock import lock_holders

__all__ = ["Registration", "RegisteredReader", "AcknowledgementReport", "live_readers", "wait_for_acknowledgements"]


def _is_id(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 2 and all(p and all(c in "0123456789abcdef" for c in p) for p in parts)


_live_registrations: "weakref.WeakSet[Registration]" = weakref.WeakSet()
_registrations_lock = threading.Lock()


def _forget_in_child() -> None:
    """In a child forked without exec: the parent's entries are the parent's. A ``flock`` belongs
    to the open file description, which fork shares, so a child that kept the descriptor would
    keep the parent's entry alive after the parent died; the child closes it (the parent's lock
    is untouched) and its copy of each registration writes nothing more."""
    for registration in list(_live_registrations):
        registration._abandon()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class Registration:
    """One reader's entry, for the reader's life: holds the shared lock of ``ID.lock`` and
    rewrites ``ID.json`` (random temp name, O_EXCL, then rename) as versions are marked.

    After a fork without exec the child's copy is abandoned at once (its descriptors closed, no
    more writes): the entry stays the parent's, alive exactly as long as the parent."""

    def __init__(self, directory: str, name: str, label: str) -> None:
        if not (0 < len(label.encode("utf-8")) <= 200 and label.isprintable()):
            raise ValueError("reader label %r is not allowed: use 1 to 200 bytes without control characters" % label)
        self.registry = os.path.join(directory, name + ".readers")
        try:
            os.mkdir(self.registry, 0o777)
        except FileExistsError:
            pass
        self.dirfd = os.open(self.registry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.record: Dict[str, Any] = {"format": 1, "label": label, "pid": os.getpid(), "host": socket.gethostname(),
                                       "registeredAt": time.time(), "storeID": None}
        self.lock = -1
        self.id = ""
        # A reader's thread marks "loaded" while the application's thread marks "applied": each
        # change of the record and its write are one step, or an older dump renamed in last
        # would take back a newer mark (an acknowledgement lost for good).
        self._mutex = threading.Lock()
        self._create_entry()
        self.write()
        with _registrations_lock:
            _live_registrations.add(self)

    def _abandon(self) -> None:
        self._mutex = threading.Lock()  # the child's copy may have been taken by a thread the child lacks
        for fd in (self.lock, self.dirfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.lock = self.dirfd = -1

    def _create_entry(self) -> None:
        for _ in range(8):
            entry_id = "%d-%s" % (os.getpid(), secrets.token_hex(8))
            lock = os.open(entry_id + ".lock", os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                           dir_fd=self.dirfd)
            os.fchmod(lock, 0o600)  # the reader's alone: others tell its liveness from /proc/locks
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                continue  # held by a sweeper: take a new ID
            try:
                if os.path.samestat(os.fstat(lock), os.stat(entry_id + ".lock", dir_fd=self.dirfd, follow_symlinks=False)):
                    self.lock, self.id = lock, entry_id
                    self.record["id"] = entry_id
                    return
            except FileNotFoundError:
                pass
            os.close(lock)  # removed by a sweeper before we locked it: take a new ID
        raise OSError(errno.EAGAIN, "could not register in %s: each new entry was removed at once" % self.registry)

    def write(self) -> None:
        """Writes the record (no fsync: it means nothing after a reboot). A record name another
        user took makes the rename fail with EPERM: the reader then registers again."""
        for attempt in range(2):
            self.record["updatedAt"] = time.time()
            temp = "%s.json.%s.tmp" % (self.id, secrets.token_hex(8))
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644,
                         dir_fd=self.dirfd)
            try:
                os.fchmod(fd, 0o644)
                os.write(fd, (_json.dump(self.record) + "\n").encode("utf-8"))
                os.close(fd)
                fd = -1
                os.rename(temp, self.id + ".json", src_dir_fd=self.dirfd, dst_dir_fd=self.dirfd)
                return
            except PermissionError:
                if attempt:
                    raise
                self._remove_entry()
                self._create_entry()
            finally:
                if fd >= 0:
                    os.close(fd)
                try:
                    os.unlink(temp, dir_fd=self.dirfd)
                except FileNotFoundError:
                    pass

    def mark(self, kind: str, version: int, store_id: str, error: Optional[str] = None) -> None:
        """kind: "loaded", "applied" or "rejected". Safe from several threads at once."""
        if self.dirfd < 0:
            return  # closed, or a forked child's copy
        with self._mutex:
            if self.dirfd >= 0:
                self._mark(kind, version, store_id, error)

    def _mark(self, kind: str, version: int, store_id: str, error: Optional[str]) -> None:
        record = self.record
        if record.get("storeID") != store_id:  # a new store identity: forget the old one's marks
            for key in [k for k in record if k.startswith(("loaded", "applied", "rejected"))]:
                del record[key]
            record["storeID"] = store_id
        if kind != "rejected" and version <= record.get(kind + "Version", -1):
            return  # versions only rise: applying a version applied every older one
        record[kind + "Version"], record[kind + "At"] = version, time.time()
        if kind == "applied" and version > record.get("loadedVersion", -1):
            record["loadedVersion"], record["loadedAt"] = version, record["appliedAt"]
        if kind == "rejected":
            record["rejectedError"] = (error or "")[:2000]
        self.write()

    def _remove_entry(self) -> None:
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # remove only while holding it alone
            if os.path.samestat(os.fstat(self.lock), os.stat(self.id + ".lock", dir_fd=self.dirfd, follow_symlinks=False)):
                for suffix in (".json", ".json.tmp", ".lock"):
                    try:
                        os.unlink(self.id + suffix, dir_fd=self.dirfd)
                    except (FileNotFoundError, PermissionError):
                        pass
        except (BlockingIOError, FileNotFoundError):
            pass  # a sweeper holds it, and removes the entry
        os.close(self.lock)
        self.lock = -1

    def close(self) -> None:
        with self._mutex:  # not while another thread writes through dirfd
            if self.lock >= 0:
                self._remove_entry()
            if self.dirfd >= 0:
                os.close(self.dirfd)
                self.dirfd = -1


@dataclass
class RegisteredReader:
    """A live registered reader, as its record says; ``owner`` is the uid owning its files."""

    id: str
    label: str
    pid: int
    host: str
    owner: int
    store_id: Optional[str] = None
    loaded_version: Optional[int] = None
    applied_version: Optional[int] = None
    rejected_version: Optional[int] = None
    rejected_error: Optional[str] = None

    @property
    def qualified_label(self) -> str:
        try:
            import pwd
            return "%s@%s" % (self.label, pwd.getpwuid(self.owner).pw_name)
        except (KeyError, ImportError):
            return "%s@%d" % (self.label, self.owner)


def _alive(dirfd: int, entry_id: str) -> Optional[os.stat_result]:
    """The lock file's status when its reader is live (or may be); None when dead, gone or invalid."""
    name = entry_id + ".lock"
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
    except PermissionError:
        status = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if not stat.S_ISREG(status.st_mode):
            return None
        holders = lock_holders(status.st_dev, status.st_ino)
        for pid in holders:
            try:
                if os.stat("/proc/%d" % pid).st_uid == status.st_uid:
                    return status
            except OSError:
                return status  # a holder whose user cannot be told: possibly alive
        return None
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return status  # held: by its reader
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # dead (left for a lister of the Swift library, or its owner, to remove)
    finally:
        os.close(fd)


def live_readers(directory: str, name: str, reader_users: Optional[Set[int]] = None) -> List[RegisteredReader]:
    """Every live reader that counts: lock file and record regular files of one user, the record
    naming its entry, among `reader_users` when given; at most 4,096 entries are looked at."""
    registry = os.path.join(directory, name + ".readers")
    try:
        dirfd = os.open(registry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    try:
        ids = sorted(n[:-5] for n in os.listdir(dirfd) if n.endswith(".lock") and _is_id(n[:-5]))[:4096]
        readers = []
        for entry_id in ids:
            lock = _alive(dirfd, entry_id)
            if lock is None or (reader_users is not None and lock.st_uid not in reader_users):
                continue
            try:
                fd = os.open(entry_id + ".json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
            except FileNotFoundError:
                if lock.st_nlink == 1:
                    readers.append(RegisteredReader(entry_id, "", int(entry_id.split("-")[0]), "", lock.st_uid))
                continue
            except OSError:
                continue
            with os.fdopen(fd, "rb") as f:
                status = os.fstat(f.fileno())
                if not stat.S_ISREG(status.st_mode) or status.st_uid != lock.st_uid:
                    continue  # files of two users: no reader
                try:
                    record = _json.parse(f.read(64 << 10))
                except (ValueError, UnicodeDecodeError):
                    continue
            if not isinstance(record, dict) or record.get("format") != 1:
                continue
            if record.get("id", entry_id) != entry_id or ("id" not in record and status.st_nlink > 1):
                continue
            readers.append(RegisteredReader(
                entry_id, str(record.get("label", "")), int(record.get("pid", 0)), str(record.get("host", "")), lock.st_uid,
                record.get("storeID"), record.get("loadedVersion"), record.get("appliedVersion"),
                record.get("rejectedVersion"), record.get("rejectedError")))
        return readers
    finally:
        os.close(dirfd)


@dataclass
class AcknowledgementReport:
    """What a wait found, as the Swift library's report: who applied, lagged, rejected, died, and
    which labels had no live reader."""

    version: int
    applied: List[RegisteredReader] = field(default_factory=list)
    lagging: List[RegisteredReader] = field(default_factory=list)
    rejected: List[RegisteredReader] = field(default_factory=list)
    died: List[RegisteredReader] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.lagging and not self.rejected and not self.missing


def _matches(reader: RegisteredReader, wanted: str) -> bool:
    label, _, user = wanted.rpartition("@") if "@" in wanted else (wanted, "", "")
    if reader.label != label:
        return False
    if not user:
        return True
    if user.isdigit():
        return reader.owner == int(user)
    try:
        import pwd
        return reader.owner == pwd.getpwnam(user).pw_uid
    except KeyError:
        return False


def wait_for_acknowledgements(
    directory: str, name: str, version: int, store_id: str, readers: Union[str, List[str]] = "all",
    timeout: float = 5.0, reader_users: Optional[Set[int]] = None,
) -> AcknowledgementReport:
    """Waits until every selected reader live at the start applied `version` (of `store_id`),
    rejected it, or died, or until `timeout`. `readers`: "all" or labels (``label`` or ``label@user``)."""
    deadline = time.monotonic() + timeout
    wanted = None if readers == "all" else ([readers] if isinstance(readers, str) else list(readers))

    def selected(reader: RegisteredReader) -> bool:
        return wanted is None or any(_matches(reader, w) for w in wanted)

    def settled(reader: RegisteredReader) -> Optional[str]:
        if reader.store_id != store_id:
            return None
        if reader.applied_version is not None and reader.applied_version >= version:
            return "applied"
        if reader.rejected_version is not None and reader.rejected_version >= version:
            return "rejected"
        return None

    report = AcknowledgementReport(version)
    waiting = {r.id: r for r in live_readers(directory, name, reader_users) if selected(r)}
    seen = {w for w in (wanted or []) if any(_matches(r, w) for r in waiting.values())}
    while True:
        live = {r.id: r for r in live_readers(directory, name, reader_users)}
        for reader in live.values():  # a label asked for may register later
            if wanted and reader.id not in waiting and selected(reader) and reader.id not in {x.id for x in report.applied + report.rejected}:
                waiting[reader.id] = reader
                seen |= {w for w in wanted if _matches(reader, w)}
        for entry_id in list(waiting):
            if entry_id not in live:
                report.died.append(waiting.pop(entry_id))
                continue
            outcome = settled(live[entry_id])
            if outcome:
                getattr(report, outcome).append(live[entry_id])
                del waiting[entry_id]
        missing = [w for w in (wanted or []) if w not in seen]
        if (not waiting and not missing) or time.monotonic() >= deadline:
            report.lagging = list(waiting.values())
            report.missing = missing
            return report
        time.sleep(0.01)
