"""Cairn's errors as Python exceptions.

Every error Cairn reports carries a stable, snake_case ``code`` (the same whether the database
is embedded or behind ``cairn serve``), a human ``message`` and ``details`` (the values
involved). Each code has its own class, grouped under a few bases, so callers can write
``except cairn.errors.UniqueViolation`` or ``except cairn.errors.NotFound``. A code this
version does not know yet raises the base class :class:`CairnError` with that ``code``.
"""

from typing import Any, Dict, Optional, Type
import json

__all__ = [
    "CairnError",
    "InvalidRequest",
    "NotFound",
    "Conflict",
    "LimitExceeded",
    "Unauthorized",
    "Forbidden",
    "Unavailable",
    "InternalError",
    "error_from",
    "CODES",
]


class CairnError(Exception):
    """Base class of every error Cairn raises.

    Attributes:
        code: the stable error code, e.g. ``"unique_violation"``.
        message: what went wrong, for people.
        details: the values involved (collection, id, limit, ...), a dict (maybe empty).
        status: the HTTP status the server answers with for this code (also set in
            embedded mode, so both behave alike).
    """

    code: str = "error"

    def __init__(
        self,
        message: str,
        code: Optional[str] = None,
        details: Optional[Dict[str, Any]] = None,
        status: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details: Dict[str, Any] = details or {}
        self.status = status

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidRequest(CairnError):
    """The request is malformed: bad JSON, filter, patch, id, document, name (HTTP 400)."""


class NotFound(CairnError):
    """A collection, document, index or other named thing does not exist (HTTP 404)."""


class Conflict(CairnError):
    """The request conflicts with the database's state: a duplicate, a failed condition, a
    concurrent transaction (HTTP 409). ``details.get("retryable")`` says whether retrying
    may succeed."""


class LimitExceeded(CairnError):
    """A size, count or time limit was exceeded (HTTP 408, 413, 429)."""


class Unauthorized(CairnError):
    """Missing or wrong credentials (HTTP 401)."""


class Forbidden(CairnError):
    """Valid credentials without the needed permission (HTTP 403)."""


class Unavailable(CairnError):
    """The server or database cannot serve now: shutting down, disk full, busy (HTTP 503)."""


class InternalError(CairnError):
    """A failure that is Cairn's fault, or damaged data (HTTP 500)."""


def _camel(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


# code -> the base its class derives from. One class per code is made below, named after the
# code in CamelCase (``unique_violation`` -> ``UniqueViolation``).
_GROUPS: Dict[str, Type[CairnError]] = {
    **{
        code: InvalidRequest
        for code in (
            "invalid_json invalid_request invalid_body invalid_document invalid_id "
            "invalid_patch invalid_path invalid_query invalid_cursor invalid_collection_name "
            "invalid_index invalid_schema invalid_geometry invalid_vector invalid_invariant "
            "invalid_property invalid_vertex invalid_weight invalid_event_id id_mismatch "
            "not_edge_collection read_only_transaction unsupported_media_type "
            "idempotency_key_reused"
        ).split()
    },
    **{
        code: NotFound
        for code in (
            "collection_not_found document_not_found index_not_found invariant_not_found "
            "route_not_found user_not_found"
        ).split()
    },
    **{
        code: Conflict
        for code in (
            "unique_violation collection_exists index_exists conflict cas_mismatch "
            "schema_violation reference_violation rule_violation invariant_violation "
            "migration_required existing_documents_invalid no_migration change_log_trimmed "
            "extension_rejected extension_state index_not_ready transaction_finished "
            "user_exists"
        ).split()
    },
    **{
        code: LimitExceeded
        for code in (
            "limit_exceeded document_too_large body_too_large query_timeout query_cancelled "
            "too_many_requests too_many_invariants"
        ).split()
    },
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    **{code: Unavailable for code in "shutting_down disk_full inference_busy".split()},
    **{code: InternalError for code in "internal corruption backup_failed".split()},
}

#: Every error code this version knows, with its exception class.
CODES: Dict[str, Type[CairnError]] = {}
for _code, _base in _GROUPS.items():
    if _camel(_code) == _base.__name__:
        # `conflict`, `invalid_request`, `unauthorized`, `forbidden`: the base class itself.
        CODES[_code] = _base
        continue
    _cls = type(_camel(_code), (_base,), {"code": _code, "__doc__": f"Cairn error `{_code}`."})
    _cls.__module__ = __name__
    CODES[_code] = _cls
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
del _code, _base

# The names most often caught, spelled out so type checkers and IDEs see them.
UniqueViolation: Type[Conflict] = CODES["unique_violation"]  # type: ignore[assignment]
CollectionNotFound: Type[NotFound] = CODES["collection_not_found"]  # type: ignore[assignment]
CollectionExists: Type[Conflict] = CODES["collection_exists"]  # type: ignore[assignment]
DocumentNotFound: Type[NotFound] = CODES["document_not_found"]  # type: ignore[assignment]
InvalidQuery: Type[InvalidRequest] = CODES["invalid_query"]  # type: ignore[assignment]

_BY_STATUS: Dict[int, Type[CairnError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: LimitExceeded,
    409: Conflict,
    413: LimitExceeded,
    429: LimitExceeded,
    500: InternalError,
    503: Unavailable,
}


def error_from(
    code: str,
    message: str,
    details: Any = None,
    status: Optional[int] = None,
) -> CairnError:
    """The exception for an error Cairn reported (``details`` may be a dict or its JSON)."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            details = {"raw": details}
    if details is not None and not isinstance(details, dict):
        details = {"value": details}
    cls = CODES.get(code) or _BY_STATUS.get(status or 0, CairnError)
    return cls(message, code=code, details=details, status=status)
