"""Host callbacks implemented in Python: storage, transport, clock, progress, log, model events.

The binding keeps every ctypes function object alive as long as the engine (or store) that
may call it, and no exception ever crosses into C: an exception inside a callback is recorded
(``Engine.callback_errors``) and becomes the error return the C contract has for that callback
(ENG_EUSER for storage, a transport failure for a batch, a cancel for progress). The failing
libengage call then raises an EngageError whose ``__cause__`` is the Python exception.
"""
import bisect
import ctypes
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from . import _native as _n
from ._util import _channel_names, channel_name
from .errors import ENG_ENOTFOUND, ENG_EUSER

SEND_STATUS = {"accepted": 0, "rejected": 1, "retry": 2, "unknown": 3}


class _Sink:
    """Where trampolines record the exceptions they swallowed."""

    def __init__(self):
        self.errors: List[BaseException] = []

    def record(self, exc: BaseException, what: str, code: int = ENG_EUSER) -> int:
        self.errors.append(exc)
        _n.lib.eng_error_set(code, f"Python {what} callback raised {type(exc).__name__}: {exc}".encode(
            errors="replace")[:400])
        return code


def _bytes(ptr, n) -> bytes:
    return ctypes.string_at(ptr, n) if n else b""


class Envelope:
    """One rendered message handed to a transport (a copy: safe to keep). The text fields are kept
    as bytes and decoded when first read: a transport that looks only at ``key``, ``channel`` and
    ``customer`` (a simulated provider, one that queues the batch as it came) pays no decoding."""
    __slots__ = ("key", "channel", "campaign", "message", "occurrence", "customer", "attempt", "segments", "_raw",
                 "_text")

    def __init__(self, e):
        self.key = e.idempotency_key.decode()
        self.channel = _channel_names()[e.channel] if 0 <= e.channel < _n.CH_COUNT else channel_name(e.channel)
        self.campaign, self.message, self.occurrence = e.campaign, e.message, e.occurrence
        self.customer, self.attempt, self.segments = e.customer, e.attempt, e.segments
        self._raw = (e.recipient, e.sender, e.subject, _bytes(e.body, e.body_len))
        self._text = None

    def _decoded(self, i):
        if self._text is None:
            self._text = tuple((b or b"").decode(errors="replace") for b in self._raw)
        return self._text[i]

    recipient = property(lambda self: self._decoded(0), doc="The address (email, phone, device id...).")
    sender = property(lambda self: self._decoded(1), doc="The sender id, or \"\".")
    subject = property(lambda self: self._decoded(2), doc="The subject (email, push), or \"\".")
    body = property(lambda self: self._decoded(3), doc="The rendered body.")

    def __repr__(self):
        return f"Envelope({self.channel} to {self.recipient!r}, key={self.key!r})"


class Transport:
    """Base class of a transport written in Python: override ``send_batch``.

    ``send_batch(envelopes)`` gets a list of Envelope and returns one status per envelope:
    ``"accepted"``, ``"rejected"`` (for good), ``"retry"`` or ``"unknown"`` (tried again later with
    the same idempotency key). Raising counts every envelope of the batch as unknown.
    A plain function taking the list works too. ``batch_size`` (1..4096) and
    ``max_in_flight`` (1..64) are read once, when the engine opens."""
    batch_size = 256
    max_in_flight = 1

    def send_batch(self, envelopes: List[Envelope]) -> List[str]:
        raise NotImplementedError


def make_transport(obj, sink: _Sink):
    fn = obj.send_batch if hasattr(obj, "send_batch") else obj

    def send_batch(env, n, status, user):
        try:
            res = fn([Envelope(env[i]) for i in range(n)])
            if len(res) != n:
                raise ValueError(f"send_batch returned {len(res)} statuses for {n} envelopes")
            for i, s in enumerate(res):
                status[i] = SEND_STATUS[s] if isinstance(s, str) else int(s)
            return 0
        except BaseException as exc:  # noqa: B902 - nothing may cross into C
            return sink.record(exc, "transport")

    cb = _n.SEND_BATCH_FN(send_batch)
    tm = _n.TransportMethods(version=2, send_batch=cb, max_in_flight=int(getattr(obj, "max_in_flight", 1)),
                             batch_size=int(getattr(obj, "batch_size", 256)))
    return tm, [cb, tm, obj]


def make_clock(fn: Callable[[], int], sink: _Sink):
    """A clock: a function returning milliseconds since the epoch. If it raises, the time of its
    last good answer is used (a clock has no error return) and the exception is recorded."""
    last = [0]

    def clock(user):
        try:
            last[0] = int(fn())
        except BaseException as exc:  # noqa: B902
            sink.record(exc, "clock")
        return last[0]

    cb = _n.CLOCK_FN(clock)
    return cb, [cb, fn]


def make_progress(fn: Callable[[str, int, int], Optional[bool]], sink: _Sink):
    """Progress: fn(operation, done, total) returns a true value to cancel. Raising cancels too."""

    def progress(op, done, total, user):
        try:
            return 1 if fn((op or b"").decode(), done, total) else 0
        except BaseException as exc:  # noqa: B902
            sink.record(exc, "progress")
            return 1

    cb = _n.PROGRESS_FN(progress)
    return cb, [cb, fn]


def make_log(fn: Callable[[int, str], None], sink: _Sink):
    def log(level, message, user):
        try:
            fn(level, (message or b"").decode(errors="replace"))
        except BaseException as exc:  # noqa: B902
            sink.errors.append(exc)

    cb = _n.LOG_FN(log)
    return cb, [cb, fn]


class Storage:
    """Base class of a storage backend written in Python (the contract of include/engage/store.h):
    an ordered byte-string key-value store with atomic batches. Override every method but
    ``erased`` and ``close``. ``get`` returns None for a missing key; ``scan(prefix)`` yields
    (key, value) pairs of the keys starting with prefix in ascending byte order, including the
    open batch's writes."""

    def get(self, key: bytes) -> Optional[bytes]:
        raise NotImplementedError

    def put(self, key: bytes, value: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: bytes) -> None:
        raise NotImplementedError

    def scan(self, prefix: bytes) -> Iterable[Tuple[bytes, bytes]]:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def erased(self, keys: List[bytes]) -> None:
        """Keys whose old values held personal data (after an erasure): purge old copies."""

    def close(self) -> None:
        """Called once when the engine releases the store."""


class DictStorage(Storage):
    """A Python storage over a dict with sorted keys: the reference backend (keeps its data after
    the engine closes, so a new Engine on the same object reopens it)."""

    def __init__(self):
        self.data: Dict[bytes, bytes] = {}
        self.keys: List[bytes] = []
        self._undo: Optional[Dict[bytes, Optional[bytes]]] = None

    def get(self, key):
        return self.data.get(key)

    def _remember(self, key):
        if self._undo is not None and key not in self._undo:
            self._undo[key] = self.data.get(key)

    def put(self, key, value):
        self._remember(key)
        if key not in self.data:
            bisect.insort(self.keys, key)
        self.data[key] = value

    def delete(self, key):
        self._remember(key)
        if key in self.data:
            del self.data[key]
            self.keys.pop(bisect.bisect_left(self.keys, key))

    def scan(self, prefix):
        i = bisect.bisect_left(self.keys, prefix)
        while i < len(self.keys) and self.keys[i].startswith(prefix):
            k = self.keys[i]
            yield k, self.data[k]
            i += 1

    def begin(self):
        self._undo = {}

    def commit(self):
        self._undo = None

    def rollback(self):
        undo, self._undo = self._undo or {}, None
        for k, v in undo.items():
            if v is None:
                self.delete(k)
            else:
                self.put(k, v)


def make_store(obj: Storage, sink: _Sink):
    """An eng_store over a Python Storage; returns (handle, things to keep alive)."""

    def guard(what, f):
        def call(*a):
            try:
                return f(*a)
            except BaseException as exc:  # noqa: B902
                return sink.record(exc, f"storage {what}")
        return call

    def get(k, kl, out, user):
        v = obj.get(_bytes(k, kl))
        if v is None:
            return ENG_ENOTFOUND
        v = bytes(v)
        return _n.lib.eng_buf_set(out, v, len(v))

    def put(k, kl, v, vl, user):
        obj.put(_bytes(k, kl), _bytes(v, vl))
        return 0

    def delete(k, kl, user):
        obj.delete(_bytes(k, kl))
        return 0

    def scan(p, pl, cb, cb_user, user):
        for key, value in obj.scan(_bytes(p, pl)):
            key, value = bytes(key), bytes(value)
            rc = cb(key, len(key), value, len(value), cb_user)
            if rc > 0:
                return 0
            if rc < 0:
                return rc
        return 0

    def simple(f):
        def call(user):
            f()
            return 0
        return call

    def erased(keys, lens, n, user):
        obj.erased([_bytes(keys[i], lens[i]) for i in range(n)])
        return 0

    def destroy(user):
        try:
            obj.close()
        except BaseException as exc:  # noqa: B902
            sink.errors.append(exc)

    m = _n.StoreMethods(version=2)
    keep = [m, obj]
    for name, f in (("get", get), ("put", put), ("delete", delete), ("scan", scan), ("begin", simple(obj.begin)),
                    ("commit", simple(obj.commit)), ("rollback", simple(obj.rollback)), ("erased", erased)):
        ftype = dict(m._fields_)[name]
        cb = ftype(guard(name, f))
        setattr(m, name, cb)
        keep.append(cb)
    d = _n.DESTROY_FN(destroy)
    m.destroy = d
    keep.append(d)
    store = ctypes.c_void_p()
    rc = _n.lib.eng_store_new(ctypes.byref(m), None, None, ctypes.byref(store))
    return rc, store, keep


def make_model_event(fn, sink: _Sink):
    kinds = ("approval_needed", "approved", "rejected")

    def on_event(ev, user):
        try:
            e = ev.contents
            fn({"kind": kinds[e.kind] if 0 <= e.kind < 3 else e.kind, "org": (e.org or b"").decode(),
                "campaign": e.campaign, "message": e.message, "actor": (e.actor or b"").decode(),
                "comment": (e.comment or b"").decode()})
        except BaseException as exc:  # noqa: B902
            sink.errors.append(exc)

    cb = _n.MODEL_EVENT_FN(on_event)
    return cb, [cb, fn]
