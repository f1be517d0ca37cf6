"""The API users see: :class:`Database`, :class:`Collection`, :class:`Cursor`,
:class:`Transaction`. One implementation over two backends (embedded, HTTP) with the same
methods, so code written against one runs against the other."""

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import errors
from ._json import from_wire, to_wire

Document = Dict[str, Any]
Filter = Dict[str, Any]
#: A sort: ``[("age", -1), ("name", 1)]``, ``{"age": -1}`` or a field name (ascending).
Sort = Union[str, Sequence[Tuple[str, int]], Dict[str, int]]

#: Documents a cursor asks for per page (the server's default page; at most 100,000).
PAGE_SIZE = 1000


def _sort_spec(sort: Optional[Sort]) -> Optional[Dict[str, int]]:
    if sort is None:
        return None
    if isinstance(sort, str):
        return {sort: 1}
    if isinstance(sort, dict):
        return dict(sort)
    return {field: direction for field, direction in sort}


class Cursor:
    """The documents a :meth:`Collection.find` matches, fetched page by page as you iterate
    (each page from the snapshot the server or engine had when it was asked for)."""

    def __init__(self, backend: Any, collection: str, request: Dict[str, Any],
                 limit: Optional[int]) -> None:
        self._backend = backend
        self._collection = collection
        self._request = request
        self._remaining = limit

    def __iter__(self) -> Iterator[Document]:
        request = dict(self._request)
        remaining = self._remaining
        while remaining is None or remaining > 0:
            page_size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            request["limit"] = page_size
            page = self._backend.query(self._collection, to_wire(request))
            documents = page["documents"]
            for doc in documents:
                yield from_wire(doc)
            if remaining is not None:
                remaining -= len(documents)
            cursor = page.get("cursor")
            if cursor is None or not documents:
                return
            # Later pages continue after the cursor; `skip` applied to the first one only.
            request.pop("skip", None)
            request["cursor"] = cursor

    def to_list(self) -> List[Document]:
        """All the matching documents (mind large results: this holds them all)."""
        return list(self)

    def first(self) -> Optional[Document]:
        """The first matching document, or None."""
        for doc in self:
            return doc
        return None


class Collection:
    """A collection of a database; get one with ``db["name"]`` or ``db.collection("name")``."""

    def __init__(self, database: "Database", name: str) -> None:
        self.database = database
        self.name = name

    @property
    def _backend(self) -> Any:
        return self.database._backend

    def __repr__(self) -> str:
        return f"Collection({self.name!r})"

    def insert(self, document: Document) -> Any:
        """Inserts a document; answers its ``_id`` (given, or made: a time-ordered UUID).
        Raises :class:`cairn.errors.UniqueViolation` if the ``_id`` exists."""
        return from_wire(self._backend.insert(self.name, to_wire(document)))

    def insert_many(self, documents: Sequence[Document]) -> List[Any]:
        """Inserts documents in one atomic commit (all or none); answers their ids in order.
        (Server: one ``POST .../batch``, bounded by the server's body size limit.)"""
        docs = [to_wire(doc) for doc in documents]
        return from_wire(self._backend.insert_many(self.name, docs))

    def get(self, doc_id: Any) -> Optional[Document]:
        """The document with this ``_id``, or None."""
        return from_wire(self._backend.get(self.name, to_wire(doc_id)))

    def __getitem__(self, doc_id: Any) -> Document:
        doc = self.get(doc_id)
        if doc is None:
            raise errors.error_from(
                "document_not_found",
                f"no document {doc_id!r} in `{self.name}`",
                {"collection": self.name, "id": to_wire(doc_id)},
                404,
            )
        return doc

    def replace(self, doc_id: Any, document: Document) -> None:
        """Replaces an existing document (:class:`cairn.errors.DocumentNotFound` if absent)."""
        self._backend.replace(self.name, to_wire(doc_id), to_wire(document))

    def upsert(self, document: Document) -> str:
        """Inserts, or replaces the document with the same ``_id``; answers ``"inserted"``
        or ``"replaced"``."""
        return self._backend.upsert(self.name, to_wire(document))

    def update(self, doc_id: Any, patch: Dict[str, Any]) -> Document:
        """Applies update operators (``{"$set": {...}, "$inc": {...}}``); answers the
        updated document."""
        return from_wire(self._backend.update(self.name, to_wire(doc_id), to_wire(patch)))

    def delete(self, doc_id: Any) -> bool:
        """Deletes a document; answers whether it was there."""
        return self._backend.delete(self.name, to_wire(doc_id))

    def find(
        self,
        filter: Optional[Filter] = None,
        *,
        sort: Optional[Sort] = None,
        skip: int = 0,
        limit: Optional[int] = None,
        projection: Optional[Dict[str, int]] = None,
    ) -> Cursor:
        """The documents matching ``filter`` (all when None), as an iterable :class:`Cursor`:
        ``sort`` (ties by ``_id``), ``skip``, ``limit`` (None: all) and ``projection``
        (``{"name": 1}`` keeps, ``{"name": 0}`` drops)."""
        request: Dict[str, Any] = {}
        if filter is not None:
            request["filter"] = filter
        sort_spec = _sort_spec(sort)
        if sort_spec is not None:
            request["sort"] = sort_spec
        if skip:
            request["skip"] = skip
        if projection is not None:
            request["projection"] = projection
        if limit is not None and limit < 0:
            raise errors.error_from("invalid_request", "limit must be >= 0", {"field": "limit"}, 400)
        return Cursor(self._backend, self.name, request, limit)

    def find_one(self, filter: Optional[Filter] = None, **options: Any) -> Optional[Document]:
        """The first document :meth:`find` would yield, or None."""
        options["limit"] = 1
        return self.find(filter, **options).first()

    def count(self, filter: Optional[Filter] = None) -> int:
        """How many documents match ``filter`` (all when None)."""
        return self._backend.count(self.name, to_wire(filter))

    def distinct(self, field: str, filter: Optional[Filter] = None) -> List[Any]:
        """The distinct values of ``field`` (array elements count separately)."""
        return from_wire(self._backend.distinct(self.name, field, to_wire(filter)))

    def aggregate(self, pipeline: Sequence[Dict[str, Any]]) -> List[Document]:
        """Runs an aggregation pipeline (``$match``, ``$group``, ``$sort``, ``$facet``, ...)."""
        return from_wire(self._backend.aggregate(self.name, to_wire(list(pipeline))))

    def create_index(self, name: str, fields: Sequence[str], **options: Any) -> Dict[str, Any]:
        """Creates and builds an index: ``create_index("by_age", ["age"], unique=True)``;
        other options as the HTTP API's index body (``kind``, ``dims``, ``metric``, ...)."""
        spec = {"name": name, "fields": list(fields), **options}
        return self._backend.create_index(self.name, spec)

    def list_indexes(self) -> List[Dict[str, Any]]:
        """The collection's indexes, every kind."""
        return self._backend.list_indexes(self.name)

    def drop_index(self, name: str) -> None:
        """Drops an index (:class:`cairn.errors.IndexNotFound` if absent)."""
        self._backend.drop_index(self.name, name)


class Transaction:
    """A serializable transaction over any collections, used as a context manager::

        with db.transaction() as txn:
            txn.insert("accounts", {"_id": 1, "balance": 10})
            txn.update("accounts", 2, {"$inc": {"balance": -10}})

    Leaving the block normally commits; an exception rolls back (and propagates). A commit
    that lost to a concurrent transaction raises :class:`cairn.errors.Conflict` (retryable).

    Embedded, each operation runs at once and answers its result (reads see the transaction's
    writes). Against a server (which has no interactive transactions) operations are sent
    together at commit: they answer None, ``get`` is not available, and ``results`` holds
    each operation's result after the block.
    """

    def __init__(self, backend: Any) -> None:
        self._txn = backend.begin()
        self.deferred: bool = self._txn.deferred
        self.results: List[Dict[str, Any]] = []

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def _run(self, operation: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        return self._txn.execute(to_wire(operation))

    def insert(self, collection: str, document: Document) -> Any:
        result = self._run({"op": "insert", "collection": collection, "document": document})
        return None if result is None else from_wire(result["_id"])

    def get(self, collection: str, doc_id: Any) -> Optional[Document]:
        if self.deferred:
            raise errors.error_from(
                "unsupported",
                "reads inside a server transaction are not available: the server runs a "
                "transaction's operations together at commit; read before the block, or use "
                "the embedded database",
                status=400,
            )
        result = self._run({"op": "get", "collection": collection, "id": doc_id})
        return None if result is None else from_wire(result["document"])

    def replace(self, collection: str, doc_id: Any, document: Document) -> None:
        self._run({"op": "replace", "collection": collection, "id": doc_id, "document": document})

    def upsert(self, collection: str, document: Document) -> Optional[str]:
        result = self._run({"op": "upsert", "collection": collection, "document": document})
        return None if result is None else result["upserted"]

    def update(self, collection: str, doc_id: Any, patch: Dict[str, Any]) -> Optional[Document]:
        result = self._run({"op": "update", "collection": collection, "id": doc_id, "patch": patch})
        return None if result is None else from_wire(result["document"])

    def delete(self, collection: str, doc_id: Any) -> Optional[bool]:
        result = self._run({"op": "delete", "collection": collection, "id": doc_id})
        return None if result is None else result["deleted"]

    def compare_and_swap(self, collection: str, doc_id: Any, expected: Dict[str, Any],
                         patch: Dict[str, Any]) -> Optional[Document]:
        """Applies ``patch`` only if every field path in ``expected`` has that value;
        otherwise the transaction fails with :class:`cairn.errors.CasMismatch`."""
        result = self._run({"op": "cas", "collection": collection, "id": doc_id,
                            "expected": expected, "patch": patch})
        return None if result is None else from_wire(result["document"])

    def commit(self) -> None:
        """Commits (what leaving the ``with`` block does)."""
        self.results = from_wire(self._txn.commit())

    def rollback(self) -> None:
        """Forgets the transaction's writes."""
        self._txn.rollback()


class Database:
    """A Cairn database, embedded (:func:`cairn.open`) or on a server (:func:`cairn.connect`).
    Usable as a context manager that closes it."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes the database (embedded: releases the folder once nothing uses it)."""
        self._backend.close()

    @property
    def mode(self) -> str:
        """The storage mode (embedded), or ``"server"``."""
        return self._backend.mode()

    def collection(self, name: str) -> Collection:
        """The collection ``name`` (not checked: a missing one fails on first use)."""
        return Collection(self, name)

    def __getitem__(self, name: str) -> Collection:
        return self.collection(name)

    def list_collections(self) -> List[str]:
        """The collections' names."""
        return self._backend.list_collections()

    def create_collection(self, name: str) -> Collection:
        """Creates a collection (:class:`cairn.errors.CollectionExists` if it is there)."""
        self._backend.create_collection(name)
        return Collection(self, name)

    def drop_collection(self, name: str) -> None:
        """Drops a collection with its documents and indexes."""
        self._backend.drop_collection(name)

    def transaction(self) -> Transaction:
        """Begins a transaction; use it in a ``with`` block (see :class:`Transaction`)."""
        return Transaction(self._backend)
