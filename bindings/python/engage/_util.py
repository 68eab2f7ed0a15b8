"""Small conversions shared by the binding's modules."""
import ctypes
import datetime
import operator
from typing import Dict, Iterable, List, Optional

from . import _native as _n

_CHANNELS: Dict[str, int] = {}


def channels() -> Dict[str, int]:
    """Channel names ("sms", "email", ...) to their eng_channel numbers, as the library names them."""
    if not _CHANNELS:
        for i in range(_n.CH_COUNT):
            name = _n.lib.eng_channel_name(i)
            if name:
                _CHANNELS[name.decode()] = i
    return _CHANNELS


def pick(table: dict, name, what: str) -> int:
    """table[name], or a ValueError naming ``what`` and the names it may be."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r}; one of {sorted(table)}") from None


def channel_id(ch) -> int:
    if isinstance(ch, int):
        return ch
    return pick(channels(), ch, "channel")


CREDITS = "whole credits"


def whole(v, field: str, what: str = "a whole number", lo: int = -(1 << 63), hi: int = (1 << 63) - 1) -> int:
    """``v`` for a C integer field, or InvalidArgument naming ``field``: ctypes masks an int to the
    field's width (2**64 + 3 credits would become 3) and refuses a float with a bare TypeError. Any
    integer type (numpy's too) passes; bool and float do not."""
    try:
        n = None if isinstance(v, bool) else operator.index(v)
    except TypeError:
        n = None
    if n is not None and lo <= n <= hi:
        return n
    from .errors import ENG_EINVAL, InvalidArgument
    span = "int64" if (lo, hi) == (-(1 << 63), (1 << 63) - 1) else f"{lo}..{hi}"
    raise InvalidArgument(ENG_EINVAL, f"{field} must be {what} (an int, {span}), not {v!r}", field)


_NAMES: List[str] = []


def _channel_names() -> List[str]:
    """eng_channel_name of 0..CH_COUNT-1, asked once (names are static)."""
    if not _NAMES:
        for i in range(_n.CH_COUNT):
            name = _n.lib.eng_channel_name(i)
            _NAMES.append(name.decode() if name else str(i))
    return _NAMES


def channel_name(i: int) -> str:
    if 0 <= i < _n.CH_COUNT:
        return _channel_names()[i]
    name = _n.lib.eng_channel_name(i)
    return name.decode() if name else str(i)


def no_nul(b: bytes, field: str) -> bytes:
    """``b``, or InvalidArgument naming ``field`` when it holds a NUL: C would read the string only up
    to it ("C1\\x00junk" would name customer C1)."""
    if b"\0" in b:
        from .errors import ENG_EINVAL, InvalidArgument
        # the field only, never the value (an external id, an address: docs/privacy.md)
        raise InvalidArgument(ENG_EINVAL, f"{field} contains a NUL character, where a C string ends", field)
    return b


def cstr(s: Optional[str], keep: List[object], sized: bool = False):
    """UTF-8 bytes for a C string field (None stays NULL); kept alive in ``keep``. ``sized``: the
    library is given its length too, so a NUL inside is its to judge."""
    if s is None:
        return None
    b = s.encode() if isinstance(s, str) else bytes(s)
    if not sized:
        no_nul(b, "string")
    keep.append(b)
    return b


def strarray(items: Iterable[str], keep: List[object], sized: bool = False):
    """A NULL-free C array of strings (kept alive in ``keep``; ``sized`` as for cstr())."""
    items = [cstr(str(x), keep, sized) for x in items]
    arr = (ctypes.c_char_p * max(len(items), 1))(*items)
    keep.append(arr)
    return ctypes.cast(arr, _n.c_char_pp)


def require(name: str) -> None:
    """Raise EngageError(ENG_EUNSUPPORTED) when the loaded library lacks function ``name``."""
    if not _n.has(name):
        from .errors import ENG_EUNSUPPORTED, EngageError
        raise EngageError(ENG_EUNSUPPORTED, f"the loaded libengage ({_n.path}) has no {name}", name)


def reader(data, sink):
    """An eng_read_fn over a Python file object (text or binary); an exception becomes an error return."""

    def read(buf, cap, user):
        try:
            chunk = data.read(cap)
            if isinstance(chunk, str):
                chunk = chunk.encode()
            if len(chunk) > cap:
                raise ValueError(f"read({cap}) returned {len(chunk)} bytes")
            ctypes.memmove(buf, chunk, len(chunk))
            return len(chunk)
        except BaseException as exc:  # noqa: B902 - nothing may cross into C
            sink.record(exc, "CSV reader")
            return -1
    return _n.READ_FN(read)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def ms(t, what: str):
    """A time as ms since 1970: an int as given, an aware datetime converted exactly (a naive one
    is refused: a local time of an unknown place is no instant, as the CSV imports say)."""
    if isinstance(t, datetime.datetime):
        if t.utcoffset() is None:
            raise ValueError(f"{what}: a time needs its zone (this datetime is naive: give tzinfo)")
        return (t - _EPOCH) // datetime.timedelta(milliseconds=1)
    return t
