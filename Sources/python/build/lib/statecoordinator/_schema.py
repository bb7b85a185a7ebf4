"""The store's JSON Schema (``NAME.schema-HEX.json``, named in the header), checked with
``jsonschema`` before anything is written, as every writer must."""

import hashlib
import os
from typing import Any, Dict, Optional

from . import _json
from .errors import Corrupt, SchemaViolation, StateCoordinatorError

__all__ = ["check", "schema_file_name", "write_schema"]


def schema_file_name(name: str, checksum: str) -> str:
    return "%s.schema-%s.json" % (name, checksum[len("sha256:"):])


def _pointer(path: Any) -> str:
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


def load(directory: str, name: str, checksum: str) -> Dict[str, Any]:
    """The schema named `checksum`, read and checked to hash to its name; Corrupt otherwise."""
    path = os.path.join(directory, schema_file_name(name, checksum))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Corrupt("the store's schema file %s is missing; nothing was committed." % path, path=path,
                      hint="Set the schema again (statectl schema set FILE).") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    if "sha256:" + hashlib.sha256(data).hexdigest() != checksum:
        raise Corrupt("the store's schema file %s does not hash to its name: it was changed in place; nothing was committed." % path,
                      path=path, hint="Set the schema again (statectl schema set FILE).")
    try:
        schema = _json.parse(data)
    except ValueError as error:
        raise Corrupt("the store's schema file %s is not JSON (%s)." % (path, error), path=path) from None
    if not isinstance(schema, dict):
        raise Corrupt("the store's schema file %s is not a JSON Schema object." % path, path=path)
    return schema


def check(directory: str, name: str, settings: Dict[str, Any], state: Any, what: str = "This state") -> None:
    """Raises SchemaViolation when the store's schema (if any) refuses `state`."""
    checksum: Optional[str] = settings.get("schema")
    if checksum is None:
        return
    schema = load(directory, name, checksum)
    try:
        import jsonschema  # type: ignore[import-untyped,unused-ignore]  # needed only by stores with a schema
    except ImportError:
        raise StateCoordinatorError(
            "the store has a JSON Schema, and the jsonschema package is not installed; nothing was committed.",
            hint="python3 -m pip install jsonschema") from None
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(state), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        first = errors[0]
        pointer = _pointer(first.absolute_path)
        raise SchemaViolation(
            "%s: %s. %s does not match the store's schema; nothing was committed." % (pointer or "(root)", first.message, what),
            pointer=pointer, path=os.path.join(directory, schema_file_name(name, checksum)),
            hint="See the schema with statectl schema get.")


def write_schema(directory: str, name: str, schema: Dict[str, Any]) -> str:
    """Writes the schema file (compact JSON and a line feed) durably; returns its checksum."""
    data = (_json.dump(schema) + "\n").encode("utf-8")
    checksum = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(directory, schema_file_name(name, checksum))
    if os.path.exists(path):
        return checksum
    temp = path + ".tmp-%d" % os.getpid()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return checksum
