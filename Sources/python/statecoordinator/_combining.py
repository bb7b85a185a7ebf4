"""Combining: declarative mutations published in ``NAME.queue`` for the lock holder to commit with
its own, as the Swift library does (the protocol article, "Combining", says every step).

A waiting writer publishes ``ID.req`` (written as ``ID.tmp``, renamed) and waits for the lock or
for its answer in ``PID.answers/``: ``ID.done`` (a hard link to the version that includes it) or
``ID.failed`` (JSON: why not). The holder renames ``ID.req`` to ``ID.B.claim`` (B: the version it
commits on), applies it, commits once listing the IDs in the header's ``combined``, then links
the answers. A claim a dead holder left is settled by the next holder from that list."""

import copy
import errno
import json
import os
import secrets
import stat
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _json, _pointer
from .errors import Conflict, SchemaViolation, StateCoordinatorError

ID_LENGTH = 16 + 1 + 8 + 1 + 16
#: The ops a Python holder applies; a request with another (a JSON Patch) is left for a Swift one.
APPLIED_OPS = ("set", "delete", "incr", "merge", "replace")
#: How long a published update waits for its answer before it also tries the lock.
ANSWER_WINDOW = 0.002


class MutationFailed(StateCoordinatorError):
    """The mutation could not be applied (a missing member, a value that is not a number); nothing
    was committed. ``kind`` is ``malformed``, ``not found``, ``test failed`` or ``not a number``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__("%s; nothing was committed." % reason)
        self.kind = kind
        self.reason = reason


class OutcomeUnknown(StateCoordinatorError):
    """The lock holder that took this update died, and whether it was committed cannot be told:
    read the state before retrying."""


def new_id() -> str:
    return "%016x-%08x-%s" % (time.time_ns(), os.getpid() & 0xFFFFFFFF, secrets.token_hex(8))


def _is_id(text: str) -> bool:
    return (len(text) == ID_LENGTH and text[16] == "-" and text[25] == "-"
            and all(c in "0123456789abcdef" for i, c in enumerate(text) if i not in (16, 25)))


def answers_name(ident: str) -> str:
    return ident[17:25] + ".answers"


# MARK: applying, as the Swift library's StateMutation does

def _set(state: Any, pointer: str, value: Any) -> Any:
    """Sets the value, creating missing parent objects; '-' or the length appends to an array."""
    path = _pointer.tokens(pointer)
    if not path:
        return value
    current = state
    for depth, token in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(current, dict):
            if last:
                current[token] = value
            else:
                current = current.setdefault(token, {})
        elif isinstance(current, list):
            index = len(current) if token == "-" else (int(token) if token.isdigit() and (token == "0" or token[0] != "0") else -1)
            if index < 0 or index > len(current) or (index == len(current) and not last):
                raise MutationFailed("not found", "%s: no index %s" % (pointer, token))
            if last:
                if index == len(current):
                    current.append(value)
                else:
                    current[index] = value
            else:
                current = current[index]
        else:
            raise MutationFailed("not found", "%s: a parent is not an object or an array" % pointer)
    return state


def apply(state: Any, mutation: Dict[str, Any]) -> Any:
    """The state after `mutation` (its JSON form), or MutationFailed; `state` is not changed."""
    op = mutation.get("op")
    state = copy.deepcopy(state)
    try:
        if op == "set":
            return _set(state, mutation["path"], copy.deepcopy(mutation["value"]))
        if op == "delete":
            parent, key = _pointer.parent_and_key(state, mutation["path"])
            if isinstance(parent, dict) and key not in parent:
                raise MutationFailed("not found", "%s does not exist" % mutation["path"])
            del parent[key]
            return state
        if op == "incr":
            by = mutation.get("by", 1)
            if isinstance(by, bool) or not isinstance(by, (int, float)):
                raise MutationFailed("malformed", "incr needs \"by\" as a number")
            if not _pointer.tokens(mutation["path"]):
                current = state  # the root itself, as the Swift library increments it
            else:
                try:
                    parent, key = _pointer.parent_and_key(state, mutation["path"])
                    current = parent.get(key, 0) if isinstance(parent, dict) else parent[key]
                except (StateCoordinatorError, IndexError, KeyError):
                    current = 0
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                raise MutationFailed("not a number", "cannot increment: the value is not a number")
            total = current + by
            if isinstance(total, int) and not -(1 << 63) <= total < (1 << 63):
                raise MutationFailed("not a number", "cannot increment: %d + %d overflows a signed 64-bit integer" % (current, by))
            return _set(state, mutation["path"], total)
        if op == "merge":
            patch = mutation.get("patch")
            if not isinstance(patch, dict):
                raise MutationFailed("malformed", "a merge patch is an object")
            return _merge(state, patch)
        if op == "replace":
            return copy.deepcopy(mutation["value"])
    except KeyError as missing:
        raise MutationFailed("malformed", "%s needs %s" % (op, missing)) from None
    except StateCoordinatorError as error:
        if isinstance(error, MutationFailed):
            raise
        raise MutationFailed("not found", str(error).rstrip(".")) from None
    raise MutationFailed("malformed", "op %r is not one this package applies (%s)" % (op, ", ".join(APPLIED_OPS)))


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7396."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


# MARK: the queue directory

def directory_mode(store_mode: int) -> int:
    """Everything for the owner; for the group and others where the store's mode lets them write."""
    return 0o700 | (0o070 if store_mode & 0o020 else 0) | (0o007 if store_mode & 0o002 else 0)


def _make_directory(path: str, mode: int, gid: Optional[int] = None) -> None:
    """mkdir, then the mode set exactly (mkdir applies the umask) through a descriptor opened
    without following links; when the group may write, the group `gid` (or no group access)."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if mode & 0o070 and gid is not None and info.st_gid != gid:
            try:
                os.fchown(fd, -1, gid)
            except OSError:
                mode &= ~0o070
        os.fchmod(fd, mode | (info.st_mode & stat.S_ISGID))
    finally:
        os.close(fd)


class Queue:
    """``NAME.queue`` of a store; every call is one system call on a name inside it."""

    def __init__(self, directory: str, name: str) -> None:
        self.path = os.path.join(directory, name + ".queue")

    def exists(self, store_mode: int, store_gid: Optional[int] = None) -> bool:
        """Whether the store has a queue it may use: a directory (never a link) that belongs to this
        process's user, the store directory's owner or root, and that nobody may write in beyond the
        writers the store's mode names (in a sticky directory anyone could create it first)."""
        try:
            info = os.lstat(self.path)
            owner = os.stat(os.path.dirname(self.path)).st_uid
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            return False
        trusted = info.st_uid in (os.geteuid(), 0, owner)
        # A group that may write must be the state file's: not a writer's primary group of non-writers.
        wrong_group = bool(info.st_mode & 0o020) and store_gid is not None and info.st_gid != store_gid
        return trusted and not wrong_group and (stat.S_IMODE(info.st_mode) & 0o022 & ~directory_mode(store_mode)) == 0

    def ensure(self, store_mode: int, store_gid: Optional[int] = None) -> None:
        _make_directory(self.path, directory_mode(store_mode), store_gid)
        if not self.exists(store_mode, store_gid):
            raise StateCoordinatorError("%s is not a queue this store's writers made; combining is off." % self.path, path=self.path,
                                        hint="Remove it; the next writer that combines creates it again.")

    def answers_dir(self, ident: str, create: bool) -> Optional[str]:
        path = os.path.join(self.path, answers_name(ident))
        if create:
            try:
                queue = os.lstat(self.path)
                _make_directory(path, stat.S_IMODE(queue.st_mode) & 0o770, queue.st_gid)
            except OSError:
                return None
        if os.path.islink(path) or not os.path.isdir(path):
            return None
        return path

    def publish(self, ident: str, mutation: Dict[str, Any], expect_version: Optional[int], store_mode: int) -> None:
        request: Dict[str, Any] = {"id": ident, "mutation": mutation}
        if expect_version is not None:
            request["expectedVersion"] = expect_version
        try:
            data = _json.dump(request).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise MutationFailed("malformed", "the mutation is not JSON (%s)" % error) from None
        temp = os.path.join(self.path, ident + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, (store_mode & 0o660) | 0o600)
        try:
            os.write(fd, data)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        os.rename(temp, os.path.join(self.path, ident + ".req"))

    def withdraw(self, ident: str) -> bool:
        try:
            os.unlink(os.path.join(self.path, ident + ".req"))
            return True
        except FileNotFoundError:
            return False

    def answer_path(self, ident: str, kind: str) -> str:
        return os.path.join(self.path, answers_name(ident), ident + "." + kind)

    def entries(self) -> List[Tuple[str, str, Optional[int]]]:
        """(id, kind, base) of requests, claims and answering markers, in publishing order."""
        found: List[Tuple[str, str, Optional[int]]] = []
        for name in sorted(os.listdir(self.path)):
            ident, _, rest = name.partition(".")
            if not _is_id(ident):
                continue
            if rest == "req":
                found.append((ident, "req", None))
            elif rest.endswith(".claim") and rest[:-6].isdigit() and str(int(rest[:-6])) == rest[:-6]:
                found.append((ident, "claim", int(rest[:-6])))
            elif rest.endswith(".answering") and rest[:-10].isdigit() and str(int(rest[:-10])) == rest[:-10]:
                found.append((ident, "answering", int(rest[:-10])))
        return found

    def claim(self, ident: str, base: int, limit: int) -> Optional[Dict[str, Any]]:
        claim = os.path.join(self.path, "%s.%d.claim" % (ident, base))
        try:
            os.rename(os.path.join(self.path, ident + ".req"), claim)
        except FileNotFoundError:
            return None
        try:
            fd = os.open(claim, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                data = os.read(fd, limit + 1)
            finally:
                os.close(fd)
            request = _json.parse(data) if len(data) <= limit else None
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            request = None
        if not isinstance(request, dict) or request.get("id") != ident or not isinstance(request.get("mutation"), dict):
            self.answer_failed(ident, base, {"outcome": "not committed",
                                             "mutationError": {"kind": "malformed", "reason": "the request could not be read"}})
            return {}
        return request

    def unclaim(self, ident: str, base: int) -> None:
        try:
            os.rename(os.path.join(self.path, "%s.%d.claim" % (ident, base)), os.path.join(self.path, ident + ".req"))
        except FileNotFoundError:
            pass

    def _drop_claim(self, ident: str, base: Optional[int]) -> None:
        if base is None:
            return
        try:
            os.unlink(os.path.join(self.path, "%s.%d.claim" % (ident, base)))
        except FileNotFoundError:
            pass

    def _begin_answering(self, ident: str, base: int) -> bool:
        """Renames ID.B.claim to ID.B.answering: an answer its waiter collected before this holder
        died is then never followed by the request queued again. False when the claim is gone."""
        try:
            os.rename(os.path.join(self.path, "%s.%d.claim" % (ident, base)), os.path.join(self.path, "%s.%d.answering" % (ident, base)))
            return True
        except OSError:
            return False

    def _end_answering(self, ident: str, base: int) -> None:
        try:
            os.unlink(os.path.join(self.path, "%s.%d.answering" % (ident, base)))
        except FileNotFoundError:
            pass

    def answer_committed(self, ident: str, base: int, state_path: str, marked: bool = False) -> None:
        answers = self.answers_dir(ident, True)
        if answers is None or (not marked and not self._begin_answering(ident, base)):
            return  # left claimed: the next holder settles it
        try:
            os.link(state_path, os.path.join(answers, ident + ".done"))
        except FileExistsError:
            pass
        except OSError as error:
            self._write_failed(ident, answers, {"outcome": "unknown",
                                                 "message": "it was committed, but its answer could not be linked (%s)" % error.strerror})
        self._end_answering(ident, base)

    def answer_failed(self, ident: str, base: Optional[int], answer: Dict[str, Any]) -> None:
        answers = self.answers_dir(ident, True)
        if answers is None or (base is not None and not self._begin_answering(ident, base)):
            return
        try:
            self._write_failed(ident, answers, answer)
        except OSError:
            pass
        if base is not None:
            self._end_answering(ident, base)

    def _write_failed(self, ident: str, answers: str, answer: Dict[str, Any]) -> None:
        temp = os.path.join(answers, ident + ".failed.tmp")
        try:
            os.unlink(temp)  # a new file only: whatever sits there (a link planted there) goes first
        except FileNotFoundError:
            pass
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o660)
        try:
            os.write(fd, json.dumps(answer).encode("utf-8"))
        finally:
            os.close(fd)
        os.rename(temp, os.path.join(answers, ident + ".failed"))

    def is_answered(self, ident: str) -> bool:
        return any(os.path.exists(self.answer_path(ident, kind)) for kind in ("done", "failed"))


def settle(queue: Queue, header: Dict[str, Any], state_path: str, kept: Callable[[int], Optional[Dict[str, Any]]]) -> None:
    """Settles the claims holders that died left (the lock is held), as the Swift library does."""
    for ident, kind, base in queue.entries():
        if kind == "answering" and base is not None:
            # Its holder died while answering: never queued again (its waiter may have the answer).
            if not queue.is_answered(ident):
                if _verdict(ident, base, header, kept) == "committed":
                    queue.answer_committed(ident, base, state_path, marked=True)
                    continue
                queue.answer_failed(ident, None, {"outcome": "unknown", "message": "its holder died while answering it"})
            queue._end_answering(ident, base)
            continue
        if kind != "claim" or base is None:
            continue
        if queue.is_answered(ident):
            queue._drop_claim(ident, base)
            continue
        verdict = _verdict(ident, base, header, kept)
        if verdict == "committed":
            queue.answer_committed(ident, base, state_path)
        elif verdict == "not committed":
            queue.unclaim(ident, base)
        else:
            queue.answer_failed(ident, base, {"outcome": "unknown", "message": verdict})


def _verdict(ident: str, base: int, current: Dict[str, Any], kept: Callable[[int], Optional[Dict[str, Any]]]) -> str:
    version = current["version"]
    if version == base:
        return "not committed"
    if version < base:
        return "the store is at version %d, before the version %d it was taken at: it was re-created" % (version, base)
    if ident in (current.get("combined") or []):
        return "committed"
    if version == base + 1:
        return "not committed"
    for between in range(base + 1, version):
        header = kept(between)
        if header is None:
            return "versions %d…%d followed its holder's death, and version %d is not kept to say" % (base + 1, version, between)
        if ident in (header.get("combined") or []):
            return "committed"
    return "not committed"


def error_from_answer(data: bytes, path: str) -> StateCoordinatorError:
    try:
        answer = json.loads(data)
    except ValueError:
        return OutcomeUnknown("the answer %s is not JSON: whether the update was committed cannot be told." % path, path=path)
    if isinstance(answer.get("mutationError"), dict):
        return MutationFailed(str(answer["mutationError"].get("kind")), str(answer["mutationError"].get("reason")))
    described = answer.get("error")
    if isinstance(described, dict):
        message = "%s (%s)" % (described.get("message"), described.get("code"))
        current = described.get("currentVersion")
        if described.get("code") == "version conflict" and isinstance(current, int):
            return Conflict(message, current_version=current, path=path)
        if described.get("code") == "schema violation":
            return SchemaViolation(message, pointer="", path=path, hint=described.get("hint"))
        return StateCoordinatorError(message, path=path, hint=described.get("hint"))
    return OutcomeUnknown("the lock holder that took this update died, and whether it was committed cannot be told: %s."
                          % answer.get("message"), path=path, hint="Read the state before retrying.")
