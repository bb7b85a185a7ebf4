"""The seed's API, made safe: ``trading/state.py`` migrates by changing an import.

Before::

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f: json.dump(state, f)
    os.replace(tmp, path)                  # the last writer wins: another bot's update is lost

After::

    from statecoordinator.compat import StateFile
    state_file = StateFile("/srv/bot/state.json")
    state = state_file.load()
    state["positions"]["EURUSD"] += 1
    state_file.save(state)                 # Conflict if another bot committed since load()
"""

import os
from typing import Any, Optional

from ._format import Snapshot
from .errors import Conflict
from .store import Store

__all__ = ["StateFile"]


class StateFile:
    """A store addressed by its state file's path (``DIR/NAME.json``), with ``load`` and ``save``.

    ``save`` commits only if nobody committed since this object's last ``load`` (else
    :class:`~statecoordinator.errors.Conflict`, and nothing is written), instead of silently
    overwriting another bot's update as ``os.replace`` did.
    """

    def __init__(self, path: str, *, label: Optional[str] = None) -> None:
        directory, file = os.path.split(os.path.abspath(path))
        if not file.endswith(".json"):
            raise ValueError("%s is not a NAME.json path" % path)
        self.store = Store(directory, file[:-5], label=label)
        self.loaded: Optional[Snapshot] = None

    def load(self) -> Any:
        """The current state (a fresh copy), remembering its version for the next ``save``."""
        self.loaded = self.store.read()
        return self.loaded.state

    def save(self, state: Any) -> None:
        """Commits `state` if the store is still at the version last loaded.

        Raises:
            Conflict: another process committed since ``load()``; load again, re-apply, save.
        """
        if self.loaded is None:
            raise Conflict("save() without load(): nothing was committed.", current_version=self.store.read().version,
                           hint="Call load() first, change what it returned, then save().")
        self.loaded = self.store.replace(state, expect_version=self.loaded.version)
