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
ENG_EPARSE, ENG_ETYPE = -17, -18

# Column types of the customer table (eng_col_type).
COLUMN_TYPES = {"string": 1, "int": 2, "decimal": 3, "date": 4, "bool": 5}
# Channels by name ("sms", "email", ...), as eng_channel_name() spells them.
CHANNELS = {}


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


def _channels():
    if not CHANNELS:
        for i in range(64):
            name = _n.lib.eng_channel_name(i)
            if name is None:
                break
            CHANNELS[name.decode()] = i
    return CHANNELS


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
            _check(_n.lib.eng_store_file_open(str(path).encode(), flags, None, ctypes.byref(store)))
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
        i = _n.Info()
        _check(_n.lib.eng_info_init(ctypes.byref(i), _n.INFO_VERSION))
        _check(_n.lib.eng_info_get(self._handle(), ctypes.byref(i)))
        return {"data_format": i.data_format, "created": i.created, "last_opened": i.last_opened,
                "open_count": i.open_count, "store_kind": i.store_kind.decode()}

    # ---- orgs --------------------------------------------------------------------

    def create_org(self, org, admin):
        """Create an org with its first actor, an admin with org scope (default settings)."""
        _check(_n.lib.eng_org_create(self._handle(), org.encode(), None, admin.encode(), None))

    # ---- audiences (customers and groups belong to the acting user's org) ----------

    def add_column(self, actor, name, type_name):
        """Declare a customer attribute column: type_name is one of COLUMN_TYPES (an admin's call)."""
        if type_name not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {type_name!r}; one of {sorted(COLUMN_TYPES)}")
        _check(_n.lib.eng_customers_add_column(self._handle(), actor.encode(), name.encode(), COLUMN_TYPES[type_name]))

    def import_csv(self, actor, data):
        """Import customers of the actor's org from CSV text or bytes (all or nothing; an admin's
        call); returns the report as a dict."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        rep = _n.ImportReport()
        _check(_n.lib.eng_import_report_init(ctypes.byref(rep), _n.IMPORT_REPORT_VERSION))
        _check(_n.lib.eng_customers_import_csv_buffer(self._handle(), actor.encode(), raw, len(raw), None, ctypes.byref(rep)))
        return {k: getattr(rep, k) for k in ("rows", "inserted", "updated", "bad_rows", "bytes")}

    def customer_count(self, actor):
        n = ctypes.c_uint64()
        _check(_n.lib.eng_customers_count(self._handle(), actor.encode(), ctypes.byref(n)))
        return n.value

    def create_group(self, actor, name, ids=None, csv=None, filter=None):
        """Create an uploaded group (from a list of external ids, or CSV text with an id column)
        or a filter group (an expression of the rules language); returns its id."""
        gid = ctypes.c_uint32()
        if filter is not None:
            _check(_n.lib.eng_group_create_filter(self._handle(), actor.encode(), name.encode(), filter.encode(), ctypes.byref(gid)))
            return gid.value
        _check(_n.lib.eng_group_create_uploaded(self._handle(), actor.encode(), name.encode(), ctypes.byref(gid)))
        if ids is not None:
            csv = "id\n" + "".join(f"{i}\n" for i in ids)
        if csv is not None:
            raw = csv.encode()
            _check(_n.lib.eng_group_upload_csv(self._handle(), actor.encode(), gid, raw, len(raw), 1, None, None))  # replace
        return gid.value

    def group_count(self, actor, group):
        n = ctypes.c_uint64()
        _check(_n.lib.eng_group_count(self._handle(), actor.encode(), group, ctypes.byref(n)))
        return n.value

    def resolve(self, actor, include, exclude=(), channels=(), split_seed=0, control_percent=0):
        """Resolve an audience (union of include minus union of exclude, kept if reachable on one of
        the channels, control_percent held back by split_seed); groups by name or id. Returns
        counts and the reach per channel in use."""
        o = _n.AudienceQuery()
        _check(_n.lib.eng_audience_query_init(ctypes.byref(o), _n.AUDIENCE_QUERY_VERSION))
        inc = (ctypes.c_char_p * len(include))(*(str(g).encode() for g in include))
        exc = (ctypes.c_char_p * max(len(exclude), 1))(*(str(g).encode() for g in exclude))
        o.include, o.n_include = inc, len(include)
        o.exclude, o.n_exclude = exc, len(exclude)
        chans = _channels()
        for c in channels:
            if c not in chans:
                raise ValueError(f"unknown channel {c!r}")
            o.channels |= 1 << chans[c]
        o.split_seed, o.control_percent = split_seed, control_percent
        aud = ctypes.c_void_p()
        _check(_n.lib.eng_audience_resolve(self._handle(), actor.encode(), ctypes.byref(o), ctypes.byref(aud)))
        try:
            out, n = {}, ctypes.c_uint64()
            for part, key in ((0, "all"), (1, "test"), (2, "control")):
                _check(_n.lib.eng_audience_count(aud, part, ctypes.byref(n)))
                out[key] = n.value
            out["reach"] = {}
            for name, ch in chans.items():
                _check(_n.lib.eng_audience_reach(aud, ch, ctypes.byref(n)))
                if n.value:
                    out["reach"][name] = n.value
            return out
        finally:
            _n.lib.eng_audience_free(aud)

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
