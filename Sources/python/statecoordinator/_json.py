"""Strict JSON, as the protocol requires (RFC 8259): no NaN or Infinity, no duplicate member
names, no lone surrogates; written compact with names in code point order."""

import json
import math
import re
from typing import Any, Dict, List, Tuple, Union

__all__ = ["parse", "dump"]


def _pairs(items: List[Tuple[str, Any]]) -> Dict[str, Any]:
    obj = dict(items)
    if len(obj) != len(items):
        seen = set()
        for key, _ in items:
            if key in seen:
                raise ValueError("duplicate member name %r" % key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise ValueError(name + " is not JSON")


def _double(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text + " is beyond a double")
    return value


#: A \\u escape of a surrogate code unit: the only way a text decoded from UTF-8 can hold one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse(data: Union[bytes, str]) -> Any:
    """Parses one JSON text strictly; raises ValueError (or UnicodeDecodeError) otherwise."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_double)
    if isinstance(data, str) or _SURROGATE_ESCAPE.search(text):
        # A pair of escapes is one character; a lone one cannot be encoded: raises.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    return value


def dump(value: Any) -> str:
    """Compact JSON, names sorted by code point, refusing NaN and Infinity (ValueError)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
