"""The Engine: one open libengage engine and what it stores, area by area (each area is a
mixin in its own module)."""
import ctypes
from typing import Callable, List, Optional

from . import _native as _n
from . import callbacks as _cb
from ._admin import AdminMixin
from ._audience import AudienceMixin
from ._coupons import AdsMixin, CouponsMixin
from ._dispatch import DispatchMixin
from ._events import EventsMixin
from ._measure import MeasureMixin
from ._model import ModelMixin
from ._offers import OffersMixin
from ._privacy import PrivacyMixin
from ._util import no_nul
from .errors import ENG_EMISUSE, EngageError, check, error_from_last
from .reports import ReportsMixin

LOG_LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}


class Engine(ModelMixin, AdminMixin, AudienceMixin, EventsMixin, DispatchMixin, CouponsMixin, AdsMixin, ReportsMixin,
             MeasureMixin, PrivacyMixin, OffersMixin):
    """An open engine.

    Storage: ``path`` opens (creating it unless ``create=False``) the crash-safe file store;
    ``storage`` takes a Python :class:`engage.Storage`; neither gives an in-memory store.
    Callbacks (all optional, all Python): ``transport`` (a :class:`engage.Transport` or a function
    taking a list of envelopes), ``clock`` (returns ms since the epoch), ``progress`` (op, done,
    total; return True to cancel), ``log`` (level, message) with ``log_level``. ``compaction``
    (with a path): the file store's automatic compaction, as for :meth:`set_compaction`.
    ``threads``: threads one call may start beside the caller's (``eng_config.threads``; 0: none).
    ``events_segments``: sealed event segments kept in memory (``eng_config.events_segments``;
    None: the library's default, 0: no limit).

    Use it as a context manager; ``close()`` is idempotent. Every failing call raises an
    :class:`engage.EngageError` subclass; when a Python callback raised during the call, that
    exception is the error's ``__cause__`` (and is kept in ``callback_errors``)."""

    def __init__(self, path=None, *, create: bool = True, readonly: bool = False, nosync: bool = False,
                 storage: Optional[_cb.Storage] = None, transport=None, clock: Optional[Callable[[], int]] = None,
                 progress=None, log=None, log_level: str = "warn", compaction: Optional[dict] = None,
                 threads: int = 1, events_segments: Optional[int] = None):
        self._h = None
        self._store = None  # the file store, for set_compaction()
        self._sink = _cb._Sink()
        self._keep: List[object] = []
        cfg = _n.Config()
        check(_n.lib.eng_config_init(ctypes.byref(cfg), _n.VERSIONS["eng_config"]))
        cfg.threads = threads
        if events_segments is not None:
            cfg.events_segments = events_segments
        if path is not None and storage is not None:
            raise ValueError("give a path or a storage, not both")
        if path is not None:
            flags = (0x1 if create and not readonly else 0) | (0x2 if readonly else 0) | (0x4 if nosync else 0)
            store = ctypes.c_void_p()
            check(_n.lib.eng_store_file_open(str(path).encode(), flags, None, ctypes.byref(store)))
            cfg.store = self._store = store
            if compaction is not None:
                try:
                    self._set_compaction(store, **compaction)
                except BaseException:
                    _n.lib.eng_store_free(store)
                    raise
        elif storage is not None:
            rc, store, keep = _cb.make_store(storage, self._sink)
            self._keep += keep
            self._raise_if(rc)
            cfg.store = store
        if compaction is not None and path is None:
            raise ValueError("compaction applies to a file store (give a path)")
        if transport is not None:
            tm, keep = _cb.make_transport(transport, self._sink)
            self._keep += keep
            cfg.transport = ctypes.pointer(tm)
        if clock is not None:
            cfg.clock_fn, keep = _cb.make_clock(clock, self._sink)
            self._keep += keep
        if progress is not None:
            cfg.progress_fn, keep = _cb.make_progress(progress, self._sink)
            self._keep += keep
        if log is not None:
            cfg.log_fn, keep = _cb.make_log(log, self._sink)
            cfg.log_level = LOG_LEVELS[log_level]
            self._keep += keep
        handle = ctypes.c_void_p()
        self._raise_if(_n.lib.eng_open(ctypes.byref(cfg), ctypes.byref(handle)))  # owns the store from here on
        self._h = handle

    # ---- plumbing --------------------------------------------------------------------------
    @property
    def callback_errors(self) -> List[BaseException]:
        """Exceptions raised by this engine's Python callbacks (and turned into error returns)."""
        return self._sink.errors

    def _handle(self):
        if self._h is None:
            raise EngageError(ENG_EMISUSE, "the engine is closed", "engine")
        return self._h

    def _raise_if(self, rc):
        """Raise for a negative code, with the last callback exception as the cause."""
        if rc < 0:
            err = error_from_last(rc)
            if self._sink.errors:
                raise err from self._sink.errors[-1]
            raise err
        return rc

    def _call(self, fn, *args, validation=None):
        """Call a libengage function with the engine handle first; raise on failure."""
        before = len(self._sink.errors)
        types = fn.argtypes or []
        for i, a in enumerate(args, 1):  # a C string parameter (not a buffer with its length after it)
            if (isinstance(a, bytes) and i < len(types) and types[i] is ctypes.c_char_p
                    and not (i + 1 < len(types) and types[i + 1] is ctypes.c_size_t)):
                no_nul(a, f"argument {i + 1} of {fn.__name__}")
        rc = fn(self._handle(), *args)
        if rc < 0:
            err = error_from_last(rc, validation if validation else None)
            if validation:
                _n.lib.eng_validation_free(validation)
            if len(self._sink.errors) > before:
                raise err from self._sink.errors[-1]
            raise err
        if validation:
            _n.lib.eng_validation_free(validation)
        return rc

    # ---- engine ---------------------------------------------------------------------------
    def info(self) -> dict:
        """What the engine knows about its stored state."""
        i = _n.new(_n.Info)
        self._call(_n.lib.eng_info_get, ctypes.byref(i))
        return {"data_format": i.data_format, "created": i.created, "last_opened": i.last_opened,
                "open_count": i.open_count, "store_kind": i.store_kind.decode(),
                "store_file_bytes": i.store_file_bytes, "store_live_bytes": i.store_live_bytes,
                "store_dead_bytes": i.store_dead_bytes, "store_compactions": i.store_compactions,
                "events_segments": i.events_segments, "events_segments_resident": i.events_segments_resident,
                "events_segment_reads": i.events_segment_reads}

    @staticmethod
    def _set_compaction(store, enabled: bool = True, dead_percent: int = 100, min_dead_bytes: int = 64 << 20):
        p = _n.new(_n.FileCompaction)
        p.enabled, p.dead_percent, p.min_dead_bytes = int(enabled), dead_percent, min_dead_bytes
        check(_n.lib.eng_store_file_set_compaction(store, ctypes.byref(p)))

    def set_compaction(self, enabled: bool = True, dead_percent: int = 100, min_dead_bytes: int = 64 << 20) -> None:
        """When the file store compacts itself after a commit: once its dead bytes reach
        ``min_dead_bytes`` and ``dead_percent`` of the live bytes (``enabled=False``: only
        :meth:`compact_store` does). Not stored: give it after each open (or as ``compaction=``)."""
        self._handle()
        if self._store is None:
            raise EngageError(ENG_EMISUSE, "compaction applies to a file store", "store")
        self._set_compaction(self._store, enabled, dead_percent, min_dead_bytes)

    def compact_store(self) -> None:
        """Compact the file store now (rewrite the live data into a new file)."""
        self._handle()
        if self._store is None:
            raise EngageError(ENG_EMISUSE, "compaction applies to a file store", "store")
        check(_n.lib.eng_store_file_compact(self._store))

    def now(self) -> int:
        """The engine's clock, in ms since the epoch."""
        return _n.lib.eng_now(self._handle())

    def close(self) -> None:
        if self._h is not None:
            h, self._h, self._store = self._h, None, None
            rc = _n.lib.eng_close(h)
            self._keep_after_close = self._keep  # the C side may call destroy callbacks until here
            check(rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
