"""JSON Pointers (RFC 6901), for Store.set, delete and incr."""

from typing import Any, List, Tuple

from .errors import StateCoordinatorError

__all__ = ["tokens", "parent_and_key"]


def tokens(pointer: str) -> List[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise StateCoordinatorError("%r is not a JSON Pointer: it must be empty or start with /." % pointer,
                                    hint="For example /risk/maxPosition.")
    out = []
    for raw in pointer[1:].split("/"):
        if "~" in raw.replace("~0", "").replace("~1", ""):
            raise StateCoordinatorError("%r is not a JSON Pointer: ~ must be followed by 0 or 1." % pointer)
        out.append(raw.replace("~1", "/").replace("~0", "~"))
    return out


def _index(container: List[Any], token: str, pointer: str, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise StateCoordinatorError("%s: %r is not an array index." % (pointer, token))
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise StateCoordinatorError("%s: index %d is past the end of an array of %d." % (pointer, index, len(container)))
    return index


def parent_and_key(state: Any, pointer: str, *, allow_end: bool = False) -> Tuple[Any, Any]:
    """The container holding the pointer's target, and its key or index in it."""
    path = tokens(pointer)
    if not path:
        raise StateCoordinatorError("the empty pointer is the whole state; use replace().")
    current = state
    for depth, token in enumerate(path[:-1]):
        here = "/" + "/".join(path[:depth + 1])
        if isinstance(current, dict):
            if token not in current:
                raise StateCoordinatorError("%s does not exist (in %s)." % (here, pointer))
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, here, False)]
        else:
            raise StateCoordinatorError("%s is not an object or an array (in %s)." % (here, pointer))
    last = path[-1]
    if isinstance(current, dict):
        return current, last
    if isinstance(current, list):
        return current, _index(current, last, pointer, allow_end)
    raise StateCoordinatorError("the parent of %s is not an object or an array." % pointer)
