"""The HTTP backend: the same operations as the embedded one, over Cairn's JSON API.

Standard library only (``urllib``), so the package has no Python dependencies. Each call is
one request; errors come back as ``{"error": {"code", "message", "details"}}`` and are raised
as the ``cairn.errors`` class for the code.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Tuple

from . import errors
from ._json import dumps, loads

#: Seconds a request may take before the client gives up (the server has its own timeout).
DEFAULT_TIMEOUT_S = 60.0

def _id_segment(doc_id: Any) -> str:
    """A document id as a URL path segment: integers as digits, strings quoted as JSON (so
    ``"42"`` stays a string), UUIDs as their text."""
    if isinstance(doc_id, bool):
        raise errors.error_from("invalid_id", "an id is an integer, a string or a UUID", status=400)
    if isinstance(doc_id, int):
        text = str(doc_id)
    elif isinstance(doc_id, str):
        text = json.dumps(doc_id)
    elif isinstance(doc_id, uuid.UUID):
        text = str(doc_id)
    elif isinstance(doc_id, dict) and set(doc_id) == {"$uuid"}:
        text = str(doc_id["$uuid"])
    else:
        raise errors.error_from(
            "invalid_id", f"an id is an integer, a string or a UUID, not {doc_id!r}", status=400
        )
    return urllib.parse.quote(text, safe="")


def _name_segment(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class HttpBackend:
    """Talks to ``cairn serve`` at ``url`` with basic auth or a bearer token."""

    def __init__(
        self,
        url: str,
        user: Optional[str] = None,
        password: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._auth: Optional[str] = None
        if token is not None:
            self._auth = f"Bearer {token}"
        elif user is not None:
            pair = f"{user}:{password or ''}".encode("utf-8")
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")

    def mode(self) -> str:
        return "server"

    def close(self) -> None:
        """Nothing to release: each request opens its own connection."""

    # -- transport -------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        """Sends one request; answers (status, parsed JSON or None). Raises the error class
        for an error answer."""
        data = None if body is None else dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._auth is not None:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                status = response.status
                raw = response.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            raise self._error(err.code, raw) from None
        except urllib.error.URLError as err:
            raise errors.error_from(
                "unavailable",
                f"cannot reach the Cairn server at {self.url}: {err.reason}",
                status=503,
            ) from None
        return status, (loads(raw.decode("utf-8")) if raw else None)

    @staticmethod
    def _error(status: int, raw: bytes) -> errors.CairnError:
        try:
            error = json.loads(raw.decode("utf-8"))["error"]
            return errors.error_from(
                error["code"], error["message"], error.get("details"), status
            )
        except (ValueError, KeyError, TypeError):
            text = raw.decode("utf-8", "replace")[:200]
            return errors.error_from("http_error", f"HTTP {status}: {text}", status=status)

    def _coll(self, collection: str) -> str:
        return f"/v1/collections/{_name_segment(collection)}"

    # -- operations (the embedded backend has the same methods) ----------------------------

    def list_collections(self) -> List[str]:
        _, body = self.request("GET", "/v1/collections")
        return [c["name"] for c in body["collections"]]

    def create_collection(self, name: str) -> None:
        self.request("POST", "/v1/collections", {"name": name})

    def drop_collection(self, name: str) -> None:
        self.request("DELETE", self._coll(name))

    def insert(self, collection: str, document: Dict[str, Any]) -> Any:
        _, body = self.request("POST", self._coll(collection) + "/documents", document)
        return body["_id"]

    def insert_many(self, collection: str, documents: List[Dict[str, Any]]) -> List[Any]:
        body = {"documents": documents}
        return self.request("POST", self._coll(collection) + "/batch", body)[1]["ids"]

    def get(self, collection: str, doc_id: Any) -> Optional[Dict[str, Any]]:
        path = f"{self._coll(collection)}/documents/{_id_segment(doc_id)}"
        try:
            return self.request("GET", path)[1]
        except errors.NotFound as err:
            if err.code == "document_not_found":
                return None
            raise

    def replace(self, collection: str, doc_id: Any, document: Dict[str, Any]) -> None:
        # PUT upserts; a replace must fail on a missing document, as the transaction op does.
        self._transaction([{"op": "replace", "collection": collection, "id": doc_id,
                            "document": document}])

    def upsert(self, collection: str, document: Dict[str, Any]) -> str:
        results = self._transaction([{"op": "upsert", "collection": collection,
                                      "document": document}])
        return results[0]["upserted"]

    def update(self, collection: str, doc_id: Any, patch: Dict[str, Any]) -> Dict[str, Any]:
        path = f"{self._coll(collection)}/documents/{_id_segment(doc_id)}"
        return self.request("PATCH", path, patch)[1]["document"]

    def delete(self, collection: str, doc_id: Any) -> bool:
        path = f"{self._coll(collection)}/documents/{_id_segment(doc_id)}"
        try:
            self.request("DELETE", path)
            return True
        except errors.NotFound as err:
            if err.code == "document_not_found":
                return False
            raise

    def query(self, collection: str, request: Dict[str, Any]) -> Dict[str, Any]:
        return self.request("POST", self._coll(collection) + "/query", request)[1]

    def count(self, collection: str, filter: Optional[Dict[str, Any]]) -> int:
        body = {} if filter is None else {"filter": filter}
        return self.request("POST", self._coll(collection) + "/count", body)[1]["count"]

    def distinct(self, collection: str, field: str, filter: Optional[Dict[str, Any]]) -> List[Any]:
        body: Dict[str, Any] = {"field": field}
        if filter is not None:
            body["filter"] = filter
        return self.request("POST", self._coll(collection) + "/distinct", body)[1]["values"]

    def aggregate(self, collection: str, pipeline: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        body = {"pipeline": pipeline}
        return self.request("POST", self._coll(collection) + "/aggregate", body)[1]["documents"]

    def list_indexes(self, collection: str) -> List[Dict[str, Any]]:
        return self.request("GET", self._coll(collection) + "/indexes")[1]["indexes"]

    def create_index(self, collection: str, spec: Dict[str, Any]) -> Dict[str, Any]:
        return self.request("POST", self._coll(collection) + "/indexes", spec)[1]

    def drop_index(self, collection: str, name: str) -> None:
        self.request("DELETE", f"{self._coll(collection)}/indexes/{_name_segment(name)}")

    def _transaction(self, operations: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return self.request("POST", "/v1/transactions", {"operations": operations})[1]["results"]

    def begin(self) -> "HttpTransaction":
        return HttpTransaction(self)


class HttpTransaction:
    """A server transaction: the server has no interactive transactions (nothing would bound
    how long a client holds one), so operations are collected and sent as one atomic
    ``POST /v1/transactions`` at commit. Each operation answers ``None`` until then."""

    deferred = True

    def __init__(self, backend: HttpBackend) -> None:
        self._backend = backend
        self._operations: List[Dict[str, Any]] = []
        self._open = True

    def execute(self, operation: Dict[str, Any]) -> None:
        if not self._open:
            raise errors.error_from(
                "transaction_finished",
                "this transaction was already committed or rolled back; begin a new one",
                status=409,
            )
        self._operations.append(operation)
        return None

    def commit(self) -> List[Dict[str, Any]]:
        self._open = False
        if not self._operations:
            return []
        return self._backend._transaction(self._operations)

    def rollback(self) -> None:
        self._open = False
        self._operations = []

    def is_open(self) -> bool:
        return self._open
