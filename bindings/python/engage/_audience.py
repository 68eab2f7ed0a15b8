"""Audiences: the customer table, CSV imports, groups, resolution and frozen audiences."""
import ctypes
from typing import Iterable, Iterator, List, Optional, Sequence

from . import _native as _n
from ._util import channel_id, channel_name, channels, reader, require, strarray
from .errors import ENG_ECANCELLED

COLUMN_TYPES = {"string": 1, "int": 2, "decimal": 3, "date": 4, "bool": 5}
PARTS = {"all": 0, "test": 1, "control": 2}
GLOBAL_CONTROL_MODES = {"off": 0, "random": 1, "uploaded": 2}
CONSENT_KINDS = {1: "consent", 2: "optout"}
CONSENT_SOURCES = {1: "import", 2: "api", 3: "unsubscribe", 4: "complaint"}
ID_KINDS = {"string": 1, "int64": 2}
GROUP_KINDS = {1: "uploaded", 2: "filter", 3: "combined"}
COMBINE_OPS = {"union": 1, "intersect": 2}
UPLOAD_MODES = {"replace": 1, "append": 2}


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

    def freeze(self, actor: str, key: str) -> None:
        """Store the audience under ``key`` (per org) with its hash; load_frozen_audience() reads it back."""
        _check(_n.lib.eng_audience_freeze(self._h, actor.encode(), key.encode()))

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


def _u32s(ids: Sequence[int], keep: List[object]):
    arr = (ctypes.c_uint32 * max(len(ids), 1))(*ids)
    keep.append(arr)
    return arr


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
            cb = reader(data, self._sink)
            self._call(_n.lib.eng_customers_import_csv, actor.encode(), cb, None, ctypes.byref(opts),
                       ctypes.byref(rep))
        else:
            raw = data.encode() if isinstance(data, str) else bytes(data)
            self._call(_n.lib.eng_customers_import_csv_buffer, actor.encode(), raw, len(raw), ctypes.byref(opts),
                       ctypes.byref(rep))
        return _import_dict(rep)

    def set_id_kind(self, actor: str, kind: str) -> None:
        """Make external ids "string" (the default) or "int64"; only while the table is empty."""
        self._call(_n.lib.eng_customers_set_id_kind, actor.encode(), ID_KINDS[kind])

    def upsert_customers(self, actor: str, rows: Sequence[dict], columns: Optional[Sequence[str]] = None,
                         skip_bad_rows: Optional[int] = None) -> dict:
        """Insert or update customers from dicts keyed by the CSV column names (``id`` first; values
        as the import writes them, None for NULL). ``columns`` defaults to every key seen, ``id``
        first. All or nothing unless ``skip_bad_rows``; errors name "line:column" with row r at
        line r + 2. Returns the import report."""
        if columns is None:
            seen = {"id": None}
            for r in rows:
                seen.update(dict.fromkeys(r))
            columns = list(seen)
        keep: List[object] = []
        names = strarray(columns, keep)
        vals = [r.get(c) for r in rows for c in columns]
        varr = (ctypes.c_char_p * max(len(vals), 1))(*[None if v is None else str(v).encode() for v in vals])
        rep, opts = _n.new(_n.ImportReport), _options(skip_bad_rows)
        self._call(_n.lib.eng_customers_upsert, actor.encode(), names, len(columns), ctypes.cast(varr, _n.c_char_pp),
                   len(rows), ctypes.byref(opts), ctypes.byref(rep))
        return _import_dict(rep)

    def compact_customers(self, actor: str) -> None:
        """Replace the stored imports by one record set of the current table (dense ids kept)."""
        self._call(_n.lib.eng_customers_compact, actor.encode())

    def customers_memory(self, actor: str) -> int:
        """Heap bytes held by the in-memory customer table."""
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_customers_memory, actor.encode(), ctypes.byref(n))
        return n.value

    def find_customer(self, actor: str, external_id: str) -> Optional[int]:
        """The dense id of an external id, or None when there is no such customer."""
        out = ctypes.c_uint32()
        rc = _n.lib.eng_customer_find(self._handle(), actor.encode(), str(external_id).encode(), ctypes.byref(out))
        if rc == -4:  # ENG_ENOTFOUND
            return None
        self._raise_if(rc)
        return out.value

    def customer_value(self, actor: str, customer: int, column: str) -> Optional[str]:
        """One value of a customer (dense id) as the import's text (``id``, ``contact.sms``,
        ``consent.email``, ``suppressed`` or an attribute); None for NULL or a missing contact."""
        n = ctypes.c_size_t()
        buf = ctypes.create_string_buffer(256)
        rc = _n.lib.eng_customer_get(self._handle(), actor.encode(), customer, column.encode(), buf, len(buf),
                                     ctypes.byref(n))
        if rc == -12 and n.value >= len(buf):  # ENG_ERANGE: longer than the first guess
            buf = ctypes.create_string_buffer(n.value + 1)
            rc = _n.lib.eng_customer_get(self._handle(), actor.encode(), customer, column.encode(), buf, len(buf),
                                         ctypes.byref(n))
        self._raise_if(rc)
        return ctypes.string_at(buf, n.value).decode() if n.value else None

    def reachable(self, actor: str, customer: int, channel: str) -> bool:
        """Whether a customer can be contacted on a channel now (contact, consent, no opt-out, not suppressed)."""
        out = ctypes.c_int()
        self._call(_n.lib.eng_customer_reachable, actor.encode(), customer, channel_id(channel), ctypes.byref(out))
        return bool(out.value)

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

    def upload_ids(self, actor: str, group: int, ids: Sequence[str], mode: str = "replace",
                   skip_bad_rows: Optional[int] = None) -> dict:
        """Set ("replace") or add to ("append") an uploaded group's members by external id; an
        unknown id is a bad row (line i + 2). Returns the report (inserted: members added)."""
        keep: List[object] = []
        rep, opts = _n.new(_n.ImportReport), _options(skip_bad_rows)
        self._call(_n.lib.eng_group_upload_ids, actor.encode(), group, strarray(ids, keep), len(ids),
                   UPLOAD_MODES[mode], ctypes.byref(opts), ctypes.byref(rep))
        return _import_dict(rep)

    def create_combined_group(self, actor: str, name: str, include: Sequence[int], exclude: Sequence[int] = (),
                              op: str = "union") -> int:
        """A group made of others: (union or intersection of include) minus exclude (group ids)."""
        keep: List[object] = []
        gid = ctypes.c_uint32()
        self._call(_n.lib.eng_group_create_combined, actor.encode(), name.encode(), COMBINE_OPS[op],
                   _u32s(include, keep), len(include), _u32s(exclude, keep) if exclude else None, len(exclude),
                   ctypes.byref(gid))
        return gid.value

    def set_combined_group(self, actor: str, group: int, include: Sequence[int], exclude: Sequence[int] = (),
                           op: str = "union") -> None:
        """Change a combined group's members; a cycle raises ENG_ECYCLE."""
        keep: List[object] = []
        self._call(_n.lib.eng_group_set_combined, actor.encode(), group, COMBINE_OPS[op], _u32s(include, keep),
                   len(include), _u32s(exclude, keep) if exclude else None, len(exclude))

    def find_group(self, actor: str, name: str) -> Optional[int]:
        """A group's id by name, or None."""
        out = ctypes.c_uint32()
        rc = _n.lib.eng_group_find(self._handle(), actor.encode(), name.encode(), ctypes.byref(out))
        if rc == -4:  # ENG_ENOTFOUND
            return None
        self._raise_if(rc)
        return out.value

    def group_kind(self, actor: str, group: int) -> str:
        """"uploaded", "filter" or "combined"."""
        out = ctypes.c_int()
        self._call(_n.lib.eng_group_kind_of, actor.encode(), group, ctypes.byref(out))
        return GROUP_KINDS.get(out.value, str(out.value))

    def delete_group(self, actor: str, group: int) -> None:
        """Delete a group (WrongState while a combined group refers to it)."""
        self._call(_n.lib.eng_group_delete, actor.encode(), group)

    def group_count(self, actor: str, group: int) -> int:
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_group_count, actor.encode(), group, ctypes.byref(n))
        return n.value

    @staticmethod
    def _query(keep, include, exclude, channels, split_seed, control_percent, control_group=0):
        o = _n.new(_n.AudienceQuery)
        o.control_group = control_group
        o.include, o.n_include = strarray(include, keep), len(include)
        o.exclude, o.n_exclude = strarray(exclude, keep), len(exclude)
        for c in channels:
            o.channels |= 1 << channel_id(c)
        o.split_seed, o.control_percent = split_seed, control_percent
        return o

    def audience(self, actor: str, include: Sequence, exclude: Sequence = (), channels: Sequence[str] = (),
                 split_seed: int = 0, control_percent: int = 0, control_group: int = 0) -> Audience:
        """Resolve an audience (union of include minus union of exclude, kept if reachable on one of
        the channels, control_percent held back by split_seed, or the members of the uploaded group
        control_group as the control); groups by name or id."""
        keep: List[object] = []
        o = self._query(keep, include, exclude, channels, split_seed, control_percent, control_group)
        aud = ctypes.c_void_p()
        self._call(_n.lib.eng_audience_resolve, actor.encode(), ctypes.byref(o), ctypes.byref(aud))
        return Audience(aud)

    def load_frozen_audience(self, actor: str, key: str) -> Audience:
        """An audience frozen with Audience.freeze() (checksums and hash verified)."""
        aud = ctypes.c_void_p()
        self._call(_n.lib.eng_audience_load_frozen, actor.encode(), key.encode(), ctypes.byref(aud))
        return Audience(aud)

    def audience_test_count(self, actor: str, include: Sequence, exclude: Sequence = (), channels: Sequence[str] = (),
                            split_seed: int = 0, control_percent: int = 0, control_group: int = 0) -> int:
        """The size of the test group audience(...) would have, without building it."""
        keep: List[object] = []
        o = self._query(keep, include, exclude, channels, split_seed, control_percent, control_group)
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_audience_test_count, actor.encode(), ctypes.byref(o), ctypes.byref(n))
        return n.value

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
