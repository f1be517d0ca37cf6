"""Cairn values <-> Python values, through Cairn's JSON mapping.

Plain JSON maps as ``json`` does. Cairn's typed wrappers become Python types and back:
``{"$date": ...}`` <-> timezone-aware ``datetime.datetime`` (naive ones are taken as UTC),
``{"$uuid": ...}`` <-> ``uuid.UUID``, ``{"$bytes": ...}`` <-> ``bytes``. Other wrappers
(``{"$vector": [...]}``, geometry objects) stay dicts, written as the server documents them.
"""

import base64
import datetime
import json
import uuid
from typing import Any, Dict

__all__ = ["dumps", "loads", "to_wire", "from_wire"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return {"$date": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Cairn cannot store a {type(value).__name__}: {value!r}")


def _hook(obj: Dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "$date" and isinstance(value, str):
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if key == "$uuid" and isinstance(value, str):
            return uuid.UUID(value)
        if key == "$bytes" and isinstance(value, str):
            return base64.b64decode(value)
    return obj


def dumps(value: Any) -> str:
    """JSON text for a Python value (datetimes, UUIDs and bytes as Cairn's wrappers)."""
    return json.dumps(value, default=_default, allow_nan=False, separators=(",", ":"))


def loads(text: str) -> Any:
    """The Python value of Cairn's JSON text (wrappers as Python types)."""
    return json.loads(text, object_hook=_hook)


def to_wire(value: Any) -> Any:
    """A Python value as plain JSON-able data (wrappers as dicts)."""
    return json.loads(dumps(value))


def from_wire(value: Any) -> Any:
    """JSON data with wrappers turned into Python types (Python types already there stay)."""
    return loads(dumps(value))
