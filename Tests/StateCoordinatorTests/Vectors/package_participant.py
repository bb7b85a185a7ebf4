"""The Python package (Sources/python) under the names the Swift tests call: the protocol's one
Python implementation, driven from Swift tests against Swift writers and readers."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Sources", "python"))

from statecoordinator import Store  # noqa: E402
from statecoordinator import _format  # noqa: E402
from statecoordinator._json import dump as dump_json, parse as parse_json  # noqa: E402,F401


def read_state(dir, name="state"):
    """(header, state) of the current version, verified."""
    path = os.path.join(dir, name + ".json")
    with open(path, "rb") as f:
        return _format.decode(f.read(), path)


def update(dir, mutate, name="state", label="python"):
    """Commits mutate(state); returns the new version."""
    return Store(dir, name, label=label).update(mutate, lock_timeout=None).version


def register(dir, label, name="state"):
    """Registers as reader `label`; returns the entry (its "id", and the package's Registration)."""
    from statecoordinator.registry import Registration
    registration = Registration(dir, name, label)
    return {"id": registration.id, "registration": registration}


def mark(entry, kind, header, error=None):
    """kind: "loaded", "applied" or "rejected"; header: the state file header of that version."""
    entry["registration"].mark(kind, header["version"], header["store"], error)


def unregister(entry):
    entry["registration"].close()
