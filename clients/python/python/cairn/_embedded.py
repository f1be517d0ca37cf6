"""The embedded backend: a database opened inside this process by the native module.

Values cross as JSON text (Cairn's own JSON mapping, the server's request shapes), so this
backend and the HTTP one answer alike. The native calls release the GIL.
"""

from typing import Any, Dict, List, Optional

from . import _cairn
from ._json import dumps, loads


class EmbeddedBackend:
    """One open database folder (or a memory-only database)."""

    def __init__(self, path: str, mode: str) -> None:
        self._db: Optional[_cairn.Database] = _cairn.Database(path, mode)

    @property
    def db(self) -> "_cairn.Database":
        if self._db is None:
            from . import errors

            raise errors.error_from(
                "database_closed", "this database was closed; open it again", status=409
            )
        return self._db

    def mode(self) -> str:
        return self.db.mode()

    def close(self) -> None:
        # The engine closes the folder when the last handle (incl. open cursors'
        # transactions) is gone.
        self._db = None

    def flush(self) -> None:
        self.db.flush()

    def list_collections(self) -> List[str]:
        return loads(self.db.list_collections())

    def create_collection(self, name: str) -> None:
        self.db.create_collection(name)

    def drop_collection(self, name: str) -> None:
        self.db.drop_collection(name)

    def insert(self, collection: str, document: Dict[str, Any]) -> Any:
        return loads(self.db.insert(collection, dumps(document)))

    def insert_many(self, collection: str, documents: List[Dict[str, Any]]) -> List[Any]:
        txn = self.db.begin()
        try:
            ids = [
                loads(txn.execute(dumps({"op": "insert", "collection": collection,
                                         "document": doc})))["_id"]
                for doc in documents
            ]
            txn.commit()
        finally:
            txn.rollback()  # nothing happens after a commit
        return ids

    def get(self, collection: str, doc_id: Any) -> Optional[Dict[str, Any]]:
        return loads(self.db.get(collection, dumps(doc_id)))

    def replace(self, collection: str, doc_id: Any, document: Dict[str, Any]) -> None:
        self.db.replace(collection, dumps(doc_id), dumps(document))

    def upsert(self, collection: str, document: Dict[str, Any]) -> str:
        return self.db.upsert(collection, dumps(document))

    def update(self, collection: str, doc_id: Any, patch: Dict[str, Any]) -> Dict[str, Any]:
        return loads(self.db.update(collection, dumps(doc_id), dumps(patch)))

    def delete(self, collection: str, doc_id: Any) -> bool:
        return self.db.delete(collection, dumps(doc_id))

    def query(self, collection: str, request: Dict[str, Any]) -> Dict[str, Any]:
        return loads(self.db.query(collection, dumps(request)))

    def count(self, collection: str, filter: Optional[Dict[str, Any]]) -> int:
        return self.db.count(collection, dumps(filter))

    def distinct(self, collection: str, field: str, filter: Optional[Dict[str, Any]]) -> List[Any]:
        return loads(self.db.distinct(collection, field, dumps(filter)))

    def aggregate(self, collection: str, pipeline: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return loads(self.db.aggregate(collection, dumps(pipeline)))

    def list_indexes(self, collection: str) -> List[Dict[str, Any]]:
        return loads(self.db.list_indexes(collection))

    def create_index(self, collection: str, spec: Dict[str, Any]) -> Dict[str, Any]:
        return loads(self.db.create_index(collection, dumps(spec)))

    def drop_index(self, collection: str, name: str) -> None:
        self.db.drop_index(collection, name)

    def begin(self) -> "EmbeddedTransaction":
        return EmbeddedTransaction(self.db.begin())


class EmbeddedTransaction:
    """An engine transaction held open across calls: each operation runs at once and
    answers its result; reads see the transaction's own writes."""

    deferred = False

    def __init__(self, txn: "_cairn.Transaction") -> None:
        self._txn = txn

    def execute(self, operation: Dict[str, Any]) -> Dict[str, Any]:
        return loads(self._txn.execute(dumps(operation)))

    def commit(self) -> List[Dict[str, Any]]:
        self._txn.commit()
        return []

    def rollback(self) -> None:
        self._txn.rollback()

    def is_open(self) -> bool:
        return self._txn.is_open()
