"""Cairn, a multi-model database, from Python.

Embedded, in this process (like ``sqlite3``)::

    import cairn
    db = cairn.open("./data", mode="persistent")   # or memory-first, hybrid, memory-only

Or on a server (``cairn serve``), with the same API::

    db = cairn.connect("http://127.0.0.1:7070", user="root", password="...")

Then::

    people = db.create_collection("people")
    pid = people.insert({"name": "Ada", "age": 36})
    for doc in people.find({"age": {"$gte": 18}}, sort=[("age", -1)], limit=10):
        print(doc["name"])
    with db.transaction() as txn:
        txn.update("people", pid, {"$inc": {"age": 1}})

Errors are :mod:`cairn.errors` classes, one per Cairn error code.
"""

from typing import Optional

from . import errors
from ._client import Collection, Cursor, Database, Transaction
from .errors import CairnError

__all__ = [
    "open",
    "connect",
    "Database",
    "Collection",
    "Cursor",
    "Transaction",
    "CairnError",
    "errors",
    "STORAGE_MODES",
]

#: The storage modes :func:`open` accepts.
STORAGE_MODES = ("persistent", "memory-first", "hybrid", "memory-only")


def open(path: str = "", mode: str = "persistent") -> Database:  # noqa: A001 (like sqlite3)
    """Opens (creating if needed) the database in folder ``path`` inside this process.

    ``mode`` is a storage mode: ``persistent`` (every commit durable), ``memory-first``
    (commits acknowledged first, flushed in the background), ``hybrid`` (durable, bounded page
    cache) or ``memory-only`` (no files; ``path`` is ignored). One process at a time may open a
    folder; a folder ``cairn serve`` holds is reached with :func:`connect` instead.
    """
    from ._embedded import EmbeddedBackend

    return Database(EmbeddedBackend(str(path), mode))


def connect(
    url: str,
    user: Optional[str] = None,
    password: Optional[str] = None,
    *,
    token: Optional[str] = None,
    timeout: float = 60.0,
) -> Database:
    """A database served by ``cairn serve`` at ``url`` (``http://host:port`` or ``https://``),
    with a user and password (basic auth) or a bearer ``token``."""
    from ._http import HttpBackend

    return Database(HttpBackend(url, user=user, password=password, token=token, timeout=timeout))
