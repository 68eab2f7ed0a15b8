"""Python bindings for libengage (ctypes; no dependencies beyond the standard library).

    import engage
    with engage.Engine("engage.db") as eng:
        print(eng.info()["open_count"])

Every failing call raises EngageError carrying the library's code, message and
detail (field path, key, or line:column).
"""
import ctypes

from . import _native as _n

__all__ = ["Engine", "EngageError", "version", "ENG_EBUSY", "ENG_ECORRUPT", "ENG_EMISUSE",
           "ENG_ENOTFOUND", "ENG_EINVAL"]

ENG_EINVAL, ENG_ENOTFOUND, ENG_EMISUSE, ENG_ECORRUPT, ENG_EBUSY = -3, -4, -6, -9, -11


class EngageError(Exception):
    """A libengage failure: .code (negative ENG_E* value), .name, .message, .detail."""

    def __init__(self, code, message, detail):
        self.code, self.message, self.detail = code, message, detail
        self.name = _n.lib.eng_errstr(code).decode()
        super().__init__(f"{message} [{self.name}{', at ' + detail if detail else ''}]")


def _check(rc):
    if rc < 0:
        e = _n.lib.eng_error_last().contents
        raise EngageError(rc, (e.message or b"").decode(errors="replace"),
                          (e.detail or b"").decode(errors="replace"))
    return rc


def version():
    """The run-time library version, for example '0.1.0'."""
    return _n.lib.eng_version_string().decode()


class Engine:
    """An engine on a file store (the embedded default) or, with path=None, in memory."""

    def __init__(self, path=None, create=True, readonly=False, nosync=False):
        cfg = _n.Config()
        _check(_n.lib.eng_config_init(ctypes.byref(cfg), _n.CONFIG_VERSION))
        if path is not None:
            flags = (_n.STORE_CREATE if create and not readonly else 0) | \
                    (_n.STORE_READONLY if readonly else 0) | (_n.STORE_NOSYNC if nosync else 0)
            store = ctypes.c_void_p()
            _check(_n.lib.eng_store_file_open(ctypes.byref(store), str(path).encode(), flags, None))
            cfg.store = store  # eng_open owns it from here on, whatever happens
        handle = ctypes.c_void_p()
        _check(_n.lib.eng_open(ctypes.byref(cfg), ctypes.byref(handle)))
        self._h = handle

    def _handle(self):
        if self._h is None:
            raise EngageError(ENG_EMISUSE, "the engine is closed", "engine")
        return self._h

    def info(self):
        """What the engine knows about its stored state, as a dict."""
        i = _n.Info(version=_n.INFO_VERSION)
        _check(_n.lib.eng_info_get(self._handle(), ctypes.byref(i)))
        return {"data_format": i.data_format, "created": i.created, "last_opened": i.last_opened,
                "open_count": i.open_count, "store_kind": i.store_kind.decode()}

    def close(self):
        if self._h is not None:
            h, self._h = self._h, None
            _check(_n.lib.eng_close(h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
