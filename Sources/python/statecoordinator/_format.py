"""The state file: one header line, then the state bytes (see the protocol article)."""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from . import _json
from .errors import Corrupt, StateCoordinatorError

FORMAT = "statecoordinator"
#: The highest header revision this package reads and writes.
CURRENT_REVISION = 4
#: A header line longer than this is damage.
MAXIMUM_HEADER = 64 << 10


@dataclass(frozen=True)
class Writer:
    """Who committed a version."""

    pid: int
    host: str
    label: str


@dataclass(frozen=True)
class Snapshot:
    """One version of the state, as read and verified.

    Attributes:
        state: the state (a fresh copy: change it freely).
        version: rises by exactly 1 per commit.
        committed_at: when it was committed (UTC).
        writer: who committed it.
        store_id: the store's identity, new each time a store is (re-)created.
        settings: the store's settings in this version's header.
    """

    state: Any
    version: int
    committed_at: datetime
    writer: Writer
    store_id: str
    settings: Dict[str, Any] = field(default_factory=dict)


def revision_for(settings: Dict[str, Any]) -> int:
    """The lowest header revision that knows every setting in use (as the Swift library)."""
    if settings.get("readerUsers") is not None:
        return 4
    if settings.get("keepHistorySeconds") is not None:
        return 3
    return 2 if settings.get("schema") is not None else 1


def timestamp(moment: Optional[datetime] = None) -> str:
    """RFC 3339 UTC with milliseconds, as headers carry it."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_timestamp(text: str) -> datetime:
    """A header's `committedAt` (RFC 3339 UTC with a fraction, as timestamp() writes it)."""
    if (len(text) == 24 and text.isascii() and text[4] == "-" and text[7] == "-" and text[10] == "T" and text[13] == ":"
            and text[16] == ":" and text[19] == "." and text[23] == "Z"
            and (text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19] + text[20:23]).isdigit()):
        # The common shape, milliseconds, without strptime's cost on every read.
        return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                        int(text[17:19]), int(text[20:23]) * 1000, tzinfo=timezone.utc)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def checksum(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decode(data: bytes, path: str) -> Tuple[Dict[str, Any], Any]:
    """Splits and verifies a state file's bytes; returns (header, state). Raises Corrupt."""
    newline = data.find(b"\n", 0, MAXIMUM_HEADER + 1)
    if newline < 0:
        raise Corrupt("%s has no header line: it is not a state file of this format (or it is cut short)." % path, path=path)
    try:
        header = _json.parse(data[:newline])
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise Corrupt("%s has a header that is not JSON (%s)." % (path, error), path=path) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Corrupt("%s is not a state file of this format." % path, path=path)
    revision = header.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision > CURRENT_REVISION:
        raise StateCoordinatorError(
            "%s has format revision %r; this package reads up to %d." % (path, revision, CURRENT_REVISION),
            path=path, hint="Upgrade the statecoordinator package.")
    for key, kind in (("version", int), ("stateBytes", int), ("store", str), ("checksum", str), ("committedAt", str),
                      ("writer", dict), ("settings", dict)):
        if not isinstance(header.get(key), kind) or isinstance(header.get(key), bool):
            raise Corrupt("%s has a header without a valid %r." % (path, key), path=path)
    body = data[newline + 1:]
    if len(body) != header["stateBytes"]:
        raise Corrupt("%s is truncated or extended: %d state bytes, the header says %d." % (path, len(body), header["stateBytes"]), path=path)
    if checksum(body) != header["checksum"]:
        raise Corrupt("%s fails its checksum: its state bytes are not the ones written." % path, path=path)
    try:
        state = _json.parse(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise Corrupt("%s has a valid checksum but its state is not JSON (%s)." % (path, error), path=path) from None
    return header, state


def snapshot(header: Dict[str, Any], state: Any) -> Snapshot:
    """The Snapshot of a verified file. The checksum covers the state, not the header: a header
    whose time or writer cannot be read is damage (Corrupt), never a crash."""
    try:
        writer = header["writer"]
        return Snapshot(
            state=state, version=header["version"], committed_at=parse_timestamp(header["committedAt"]),
            writer=Writer(int(writer.get("pid", 0)), str(writer.get("host", "")), str(writer.get("label", ""))),
            store_id=header["store"], settings=dict(header["settings"]))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise Corrupt("a state file's header has an unreadable committedAt or writer (%s)." % error) from None


def encode(header: Dict[str, Any], state: Any) -> bytes:
    """The file's bytes for `state` under `header` (stateBytes and checksum filled in)."""
    body = (_json.dump(state) + "\n").encode("utf-8")
    header["stateBytes"] = len(body)
    header["checksum"] = checksum(body)
    return _json.dump(header).encode("utf-8") + b"\n" + body


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and 1.0 are equal numbers, true is not 1, names compare by code point."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
