"""Audiences: the customer table, CSV imports, groups, resolution and frozen audiences."""
import ctypes
from typing import Iterable, Iterator, List, Optional, Sequence

from . import _native as _n
from ._util import channel_id, channel_name, channels, require, strarray
from .errors import ENG_ECANCELLED

COLUMN_TYPES = {"string": 1, "int": 2, "decimal": 3, "date": 4, "bool": 5}
PARTS = {"all": 0, "test": 1, "control": 2}
GLOBAL_CONTROL_MODES = {"off": 0, "random": 1, "uploaded": 2}
CONSENT_KINDS = {1: "consent", 2: "optout"}
CONSENT_SOURCES = {1: "import", 2: "api", 3: "unsubscribe", 4: "complaint"}


def _options(skip_bad_rows: Optional[int]):
    o = _n.ImportOptions()
    _n.lib.eng_import_options_init(ctypes.byref(o), 1)
    if skip_bad_rows is not None:
        o.on_error, o.max_bad_rows = 1, skip_bad_rows
    return o


def _import_dict(rep) -> dict:
    return {k: getattr(rep, k) for k in ("rows", "inserted", "updated", "bad_rows", "bytes")}


class Audience:
    """A resolved or frozen audience: counts, reach per channel, members (dense ids) and its hash.
    A context manager; ``close()`` releases it."""

    def __init__(self, handle):
        self._h = handle

    def count(self, part: str = "all") -> int:
        n = ctypes.c_uint64()
        _check(_n.lib.eng_audience_count(self._h, PARTS[part], ctypes.byref(n)))
        return n.value

    def reach(self) -> dict:
        """Customers reachable per channel (channels with none are left out)."""
        out, n = {}, ctypes.c_uint64()
        for name, ch in channels().items():
            _check(_n.lib.eng_audience_reach(self._h, ch, ctypes.byref(n)))
            if n.value:
                out[name] = n.value
        return out

    def ids(self, part: str = "test", chunk: int = 4096) -> Iterable[int]:
        """Dense customer ids of a part, ascending (an iterator, read chunk by chunk)."""
        buf = (ctypes.c_uint32 * chunk)()
        offset, n = 0, ctypes.c_size_t()
        while True:
            _check(_n.lib.eng_audience_ids(self._h, PARTS[part], offset, buf, chunk, ctypes.byref(n)))
            for i in range(n.value):
                yield buf[i]
            if n.value < chunk:
                return
            offset += n.value

    def hash(self) -> str:
        """SHA-256 of the audience's canonical content, hex."""
        out = (ctypes.c_uint8 * 32)()
        _check(_n.lib.eng_audience_hash(self._h, out))
        return bytes(out).hex()

    def to_dict(self) -> dict:
        return {"all": self.count("all"), "test": self.count("test"), "control": self.count("control"),
                "reach": self.reach()}

    def close(self):
        if self._h:
            h, self._h = self._h, None
            _n.lib.eng_audience_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def _check(rc):
    from .errors import check
    return check(rc)


class AudienceMixin:
    """Customers, groups and audiences (include/engage/audience.h); calls act in the actor's org."""

    def add_column(self, actor: str, name: str, type_name: str) -> None:
        """Declare a customer attribute column: type_name is one of COLUMN_TYPES (an admin's call)."""
        if type_name not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {type_name!r}; one of {sorted(COLUMN_TYPES)}")
        self._call(_n.lib.eng_customers_add_column, actor.encode(), name.encode(), COLUMN_TYPES[type_name])

    def import_csv(self, actor: str, data, skip_bad_rows: Optional[int] = None) -> dict:
        """Import customers from CSV: text, bytes, or a binary file object (read in chunks).
        All or nothing unless ``skip_bad_rows`` allows that many bad rows. Returns the report."""
        rep = _n.new(_n.ImportReport)
        opts = _options(skip_bad_rows)
        if hasattr(data, "read"):
            def read(buf, cap, user):
                try:
                    chunk = data.read(cap)
                    if isinstance(chunk, str):
                        chunk = chunk.encode()
                    ctypes.memmove(buf, chunk, len(chunk))
                    return len(chunk)
                except BaseException as exc:  # noqa: B902 - nothing may cross into C
                    self._sink.record(exc, "CSV reader")
                    return -1
            cb = _n.READ_FN(read)
            self._call(_n.lib.eng_customers_import_csv, actor.encode(), cb, None, ctypes.byref(opts),
                       ctypes.byref(rep))
        else:
            raw = data.encode() if isinstance(data, str) else bytes(data)
            self._call(_n.lib.eng_customers_import_csv_buffer, actor.encode(), raw, len(raw), ctypes.byref(opts),
                       ctypes.byref(rep))
        return _import_dict(rep)

    def customer_count(self, actor: str) -> int:
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_customers_count, actor.encode(), ctypes.byref(n))
        return n.value

    def external_id(self, actor: str, customer: int) -> str:
        """The external id of a dense customer id (as envelopes and traces give them)."""
        buf = ctypes.create_string_buffer(512)
        self._call(_n.lib.eng_customer_external_id, actor.encode(), customer, buf, len(buf))
        return buf.value.decode()

    def create_group(self, actor: str, name: str, ids: Optional[Sequence[str]] = None, csv: Optional[str] = None,
                     filter: Optional[str] = None) -> int:
        """Create an uploaded group (from external ids, or CSV text with an id column) or a filter
        group (an expression of the rules language); returns its id."""
        gid = ctypes.c_uint32()
        if filter is not None:
            self._call(_n.lib.eng_group_create_filter, actor.encode(), name.encode(), filter.encode(),
                       ctypes.byref(gid))
            return gid.value
        self._call(_n.lib.eng_group_create_uploaded, actor.encode(), name.encode(), ctypes.byref(gid))
        if ids is not None:
            csv = "id\n" + "".join(f"{i}\n" for i in ids)
        if csv is not None:
            raw = csv.encode()
            self._call(_n.lib.eng_group_upload_csv, actor.encode(), gid, raw, len(raw), 1, None, None)  # replace
        return gid.value

    def group_count(self, actor: str, group: int) -> int:
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_group_count, actor.encode(), group, ctypes.byref(n))
        return n.value

    def audience(self, actor: str, include: Sequence, exclude: Sequence = (), channels: Sequence[str] = (),
                 split_seed: int = 0, control_percent: int = 0) -> Audience:
        """Resolve an audience (union of include minus union of exclude, kept if reachable on one of
        the channels, control_percent held back by split_seed); groups by name or id."""
        keep: List[object] = []
        o = _n.new(_n.AudienceQuery)
        o.include, o.n_include = strarray(include, keep), len(include)
        o.exclude, o.n_exclude = strarray(exclude, keep), len(exclude)
        for c in channels:
            o.channels |= 1 << channel_id(c)
        o.split_seed, o.control_percent = split_seed, control_percent
        aud = ctypes.c_void_p()
        self._call(_n.lib.eng_audience_resolve, actor.encode(), ctypes.byref(o), ctypes.byref(aud))
        return Audience(aud)

    def resolve(self, actor: str, include: Sequence, **kw) -> dict:
        """audience(...) as a dict: counts of all, test, control and the reach per channel."""
        with self.audience(actor, include, **kw) as a:
            return a.to_dict()

    # ---- the org's global control group (libraries that have it) --------------------------
    def set_global_control(self, actor: str, mode: str = "random", percent: int = 0, seed: int = 0,
                           group: int = 0) -> None:
        """Hold customers out of every campaign: mode "random" (``percent`` of the org by a stable
        hash of ``seed`` and id), "uploaded" (the members of uploaded group ``group``) or "off"."""
        require("eng_global_control_set")
        g = _n.new(_n.GlobalControl)
        g.mode, g.percent, g.seed, g.group = GLOBAL_CONTROL_MODES[mode], percent, seed, group
        self._call(_n.lib.eng_global_control_set, actor.encode(), ctypes.byref(g))

    def global_control(self, actor: str) -> dict:
        require("eng_global_control_get")
        g = _n.new(_n.GlobalControl)
        self._call(_n.lib.eng_global_control_get, actor.encode(), ctypes.byref(g))
        inv = {v: k for k, v in GLOBAL_CONTROL_MODES.items()}
        return {"mode": inv.get(g.mode, g.mode), "percent": g.percent, "seed": g.seed, "group": g.group}

    def in_global_control(self, actor: str, customer: int) -> bool:
        """Whether a customer (dense id) is in the org's global control group now."""
        require("eng_global_control_contains")
        out = ctypes.c_int()
        self._call(_n.lib.eng_global_control_contains, actor.encode(), customer, ctypes.byref(out))
        return bool(out.value)

    # ---- consent history (libraries that have it) ---------------------------------------
    def consent_history(self, actor: str, customer: int) -> Iterator[dict]:
        """Every consent and opt-out change of a customer (dense id), oldest first (an iterator):
        channel, kind ("consent" or "optout"), given, time, recorded, source, actor."""
        require("eng_consent_history")
        it = ctypes.c_void_p()
        self._call(_n.lib.eng_consent_history, actor.encode(), customer, ctypes.byref(it))
        try:
            while True:
                c = _n.new(_n.ConsentChange)
                rc = _n.lib.eng_consent_next(it, ctypes.byref(c))
                if rc == -25:  # ENG_ITEROVER
                    return
                self._raise_if(rc)
                yield {"channel": channel_name(c.channel), "kind": CONSENT_KINDS.get(c.kind, c.kind),
                       "given": bool(c.given), "time": c.time, "recorded": c.recorded,
                       "source": CONSENT_SOURCES.get(c.source, c.source), "actor": (c.actor or b"").decode()}
        finally:
            _n.lib.eng_consent_iter_free(it)

    def message_audience(self, actor: str, message: int) -> Audience:
        """The audience frozen when the message was approved."""
        aud = ctypes.c_void_p()
        self._call(_n.lib.eng_message_audience, actor.encode(), message, ctypes.byref(aud))
        return Audience(aud)


__all__ = ["Audience", "AudienceMixin", "COLUMN_TYPES", "ENG_ECANCELLED"]
