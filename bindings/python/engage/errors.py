"""Exceptions: every failing libengage call raises an EngageError subclass carrying the library's
code, message and detail (a field path such as ``message.creatives[0].body``, a key, or
``line:column``)."""
from typing import List, Optional, Tuple

from . import _native as _n

# eng_code values (include/engage/errors.h).
CODES = {"ENG_ERROR": -1, "ENG_ENOMEM": -2, "ENG_EINVAL": -3, "ENG_ENOTFOUND": -4, "ENG_EEXISTS": -5,
         "ENG_EMISUSE": -6, "ENG_EVERSION": -7, "ENG_ESTORAGE": -8, "ENG_ECORRUPT": -9, "ENG_ETRANSPORT": -10,
         "ENG_EBUSY": -11, "ENG_ERANGE": -12, "ENG_ETOOBIG": -13, "ENG_ESTATE": -14, "ENG_EDENIED": -15,
         "ENG_EVALIDATION": -16, "ENG_EPARSE": -17, "ENG_ETYPE": -18, "ENG_ECANCELLED": -19, "ENG_EIO": -20,
         "ENG_ECYCLE": -21, "ENG_EUNSUPPORTED": -22, "ENG_ECREDITS": -23, "ENG_EUSER": -24, "ENG_ITEROVER": -25}
globals().update(CODES)


class EngageError(Exception):
    """A libengage failure.

    Attributes: ``code`` (negative ENG_E* value), ``name`` (``"ENG_EINVAL"``...), ``message``
    (what went wrong, in English) and ``detail`` (where: a field path, a key or line:column; may be
    empty). ``field`` is ``detail`` under the name the issue tracker uses for it.
    """

    def __init__(self, code: int, message: str, detail: str = ""):
        self.code, self.message, self.detail = code, message, detail
        self.name = (_n.lib.eng_errstr(code) or b"?").decode()
        super().__init__(f"{message} [{self.name}{', at ' + detail if detail else ''}]")

    @property
    def field(self) -> str:
        return self.detail


class InvalidArgument(EngageError, ValueError):
    """ENG_EINVAL, ENG_ERANGE, ENG_EPARSE, ENG_ETYPE: bad input; ``detail`` names the field or line:column."""


class NotFound(EngageError, KeyError):
    """ENG_ENOTFOUND."""

    def __str__(self):  # KeyError would quote the message
        return Exception.__str__(self)


class AlreadyExists(EngageError):
    """ENG_EEXISTS."""


class Denied(EngageError, PermissionError):
    """ENG_EDENIED: the acting user may not do this."""


class WrongState(EngageError):
    """ENG_ESTATE: not allowed in the object's current state."""


class Cancelled(EngageError):
    """ENG_ECANCELLED: a progress callback asked to stop (or raised)."""


class StorageError(EngageError, OSError):
    """ENG_ESTORAGE, ENG_ECORRUPT, ENG_EIO, ENG_EBUSY."""


class CreditsError(EngageError):
    """ENG_ECREDITS: not enough credits."""


class ValidationError(InvalidArgument):
    """ENG_EVALIDATION: every problem at once, as ``items``: a list of (code, path, message)."""

    def __init__(self, code, message, detail="", items: Optional[List[Tuple[int, str, str]]] = None,
                 first_codes: Optional[dict] = None):
        super().__init__(code, message, detail)
        self.items = items or []
        self._first = first_codes or {}

    def code_at(self, path: str) -> int:
        """The code of the first problem at field ``path`` (eng_validation_find), or 0 for none."""
        return self._first.get(path, 0)

    def paths(self) -> List[str]:
        """The field paths of every problem, in report order."""
        return [p for _, p, _ in self.items]


_CLASSES = {-3: InvalidArgument, -12: InvalidArgument, -17: InvalidArgument, -18: InvalidArgument,
            -4: NotFound, -5: AlreadyExists, -15: Denied, -14: WrongState, -19: Cancelled, -8: StorageError,
            -9: StorageError, -20: StorageError, -11: StorageError, -23: CreditsError, -16: ValidationError}


def error_from_last(rc: int, validation=None) -> EngageError:
    """The exception for return code ``rc`` from ``eng_error_last()`` (and a validation report)."""
    e = _n.lib.eng_error_last().contents
    message = (e.message or b"").decode(errors="replace")
    detail = (e.detail or b"").decode(errors="replace")
    cls = _CLASSES.get(rc, EngageError)
    if validation:
        items = validation_items(validation)
        first = {p: _n.lib.eng_validation_find(validation, p.encode()) for _, p, _ in items}
        err = ValidationError(rc, message or "validation failed", detail or (items[0][1] if items else ""), items,
                              first)
        return err
    return cls(rc, message, detail)


def validation_items(v) -> List[Tuple[int, str, str]]:
    out = []
    for i in range(_n.lib.eng_validation_count(v)):
        code, path, msg = _n.c_int(), _n.c_char_p(), _n.c_char_p()
        if _n.lib.eng_validation_item(v, i, _n.ctypes.byref(code), _n.ctypes.byref(path), _n.ctypes.byref(msg)) == 0:
            out.append((code.value, (path.value or b"").decode(), (msg.value or b"").decode()))
    return out


def check(rc: int, validation=None) -> int:
    """Raise for a negative return code; frees ``validation`` (an eng_validation pointer) either way."""
    try:
        if rc < 0:
            raise error_from_last(rc, validation if validation else None)
        return rc
    finally:
        if validation:
            _n.lib.eng_validation_free(validation)
