"""StateCoordinator for Python: one JSON state shared by processes on one host, with the exact
on-disk protocol of the Swift library and ``statectl`` (flock-serialized writers, atomic
replacement, lock-free verified reads, history, schema, reader registry).

    from statecoordinator import Store
    store = Store("/srv/bot", label="bot-eu-1")
    snapshot = store.update(lambda s: {**s, "orders": s["orders"] + 1})
"""

from ._combining import MutationFailed, OutcomeUnknown
from ._format import Snapshot, Writer
from .errors import Conflict, Corrupt, LockTimeout, NotFound, SchemaViolation, StateCoordinatorError
from .reader import Gap, Reader
from .registry import AcknowledgementReport, RegisteredReader
from .store import HistoryEntry, Store

__all__ = [
    "Store", "Snapshot", "Writer", "HistoryEntry", "Reader", "Gap", "RegisteredReader", "AcknowledgementReport",
    "StateCoordinatorError", "Conflict", "LockTimeout", "Corrupt", "NotFound", "SchemaViolation", "MutationFailed",
    "OutcomeUnknown",
]
__version__ = "0.1.0"
