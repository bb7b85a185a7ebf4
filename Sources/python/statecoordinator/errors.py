"""Errors of the statecoordinator package.

Every error is a :class:`StateCoordinatorError` whose ``code`` is the exit code ``statectl``
gives for the same failure, so that a script can treat both alike.
"""

from typing import Optional

__all__ = [
    "StateCoordinatorError",
    "Conflict",
    "LockTimeout",
    "Corrupt",
    "NotFound",
    "SchemaViolation",
]


class StateCoordinatorError(Exception):
    """Base of every error this package raises.

    Attributes:
        code: ``statectl``'s exit code for the same failure (1 for a general failure).
        path: the file concerned, when there is one.
        hint: what the user can do about it, when there is something.
        committed: whether anything was committed (always False except where said).
    """

    code = 1

    def __init__(self, message: str, *, path: Optional[str] = None, hint: Optional[str] = None) -> None:
        super().__init__(message if hint is None else "%s %s" % (message, hint))
        self.message = message
        self.path = path
        self.hint = hint
        self.committed = False


class Conflict(StateCoordinatorError):
    """The store is not at the version the caller expected (``expect_version``, or a
    :class:`~statecoordinator.compat.StateFile` saved after another commit). Nothing was committed.

    Attributes:
        current_version: the store's version when the commit was refused.
    """

    code = 3

    def __init__(self, message: str, *, current_version: int, path: Optional[str] = None, hint: Optional[str] = None) -> None:
        super().__init__(message, path=path, hint=hint)
        self.current_version = current_version


class LockTimeout(StateCoordinatorError):
    """The writer lock was not obtained in time. Nothing was committed.

    Attributes:
        holder_pid: the pid of a process holding the lock, when ``/proc/locks`` says.
        holder_uid: the user it runs as, when it can be told.
    """

    code = 4

    def __init__(
        self, message: str, *, holder_pid: Optional[int] = None, holder_uid: Optional[int] = None,
        path: Optional[str] = None, hint: Optional[str] = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.holder_pid = holder_pid
        self.holder_uid = holder_uid


class Corrupt(StateCoordinatorError):
    """A state file fails verification (bad checksum, truncated, not JSON, not this format)."""

    code = 5


class NotFound(StateCoordinatorError):
    """No store of that name in that directory (a plain JSON file there says how to import it)."""

    code = 6


class SchemaViolation(StateCoordinatorError):
    """The new state does not match the store's JSON Schema. Nothing was committed.

    Attributes:
        pointer: the JSON Pointer of the first failing value ("" for the whole state).
    """

    code = 11

    def __init__(self, message: str, *, pointer: str, path: Optional[str] = None, hint: Optional[str] = None) -> None:
        super().__init__(message, path=path, hint=hint)
        self.pointer = pointer
