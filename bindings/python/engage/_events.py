"""Events: provider receipts (the touch log) and transactions."""
import ctypes
from decimal import Decimal
from typing import Iterable, Iterator, List, Optional, Sequence

from . import _native as _n
from ._audience import _options
from ._util import channel_name, cstr, ms, reader, strarray
from .errors import ENG_EINVAL, InvalidArgument

TOUCH_STATUSES = {"sent": 0, "delivered": 1, "opened": 2, "clicked": 3, "failed": 4, "unsubscribed": 5,
                  "bounced": 6, "complained": 7}
_STATUS_NAMES = {v: k for k, v in TOUCH_STATUSES.items()}
TXN_FIELD_TYPES = {"string": 1, "int": 2, "decimal": 3, "date": 4, "bool": 5}


def _event_dict(r) -> dict:
    return {k: getattr(r, k) for k in ("rows", "accepted", "duplicates", "unmatched", "unknown_customers",
                                       "consent_changes", "bad_rows", "bytes")}


def _amount(x, field: str = "amount") -> int:
    """An amount in currency units (int, float, Decimal or text) as the library's 10^-4 units; more
    than 4 decimals is refused, as the CSV import refuses it (never rounded away)."""
    try:
        units = Decimal(str(x)) * 10000
        exact = units == units.to_integral_value()
    except ArithmeticError:
        exact = False
    if not exact:
        raise InvalidArgument(ENG_EINVAL, f"{field}: not a decimal with at most 4 decimals", field)
    return int(units)


def _field_text(v) -> str:
    """A custom field's value as the CSV import reads it."""
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


class EventsMixin:
    """Receipts and transactions (include/engage/events.h)."""

    def append_receipts(self, receipts: Sequence[dict]) -> dict:
        """Append provider receipts: dicts with key (the envelope's idempotency key), status (one
        of TOUCH_STATUSES but "sent"), time (ms, or an aware datetime) and optionally detail. All or nothing; returns
        the report (accepted, duplicates, unmatched...)."""
        n = len(receipts)
        keep: List[object] = []
        r = _n.Receipts(version=2, count=n)
        keys = [str(x["key"]) for x in receipts]
        r.keys = strarray(keys, keep, sized=True)  # with their lengths (below)
        # their lengths: the library need not scan each key for its end, and a NUL inside a key
        # is refused instead of ending it
        kl = (ctypes.c_size_t * max(n, 1))(*[len(k.encode()) for k in keys])
        r.key_lengths = kl
        st = (ctypes.c_int * max(n, 1))(*[TOUCH_STATUSES[x["status"]] for x in receipts])
        tm = (ctypes.c_int64 * max(n, 1))(*[ms(x["time"], "receipts.time") for x in receipts])
        det = (ctypes.c_char_p * max(n, 1))(*[cstr(x.get("detail"), keep) for x in receipts])
        r.statuses, r.times, r.details = st, tm, ctypes.cast(det, _n.c_char_pp)
        rep = _n.new(_n.EventReport)
        self._call(_n.lib.eng_touch_append, ctypes.byref(r), ctypes.byref(rep))
        return _event_dict(rep)

    def touches(self, org: str, customer: int) -> List[dict]:
        """Every touch of a customer (dense id), oldest first."""
        out: List[dict] = []

        def fn(row, user):
            t = row.contents
            out.append({"time": t.time, "customer": t.customer, "channel": channel_name(t.channel),
                        "status": _STATUS_NAMES.get(t.status, t.status), "campaign": t.campaign,
                        "message": t.message, "occurrence": t.occurrence,
                        "detail": (t.detail or b"").decode() or None})
            return 0
        cb = _n.TOUCH_FN(fn)
        self._call(_n.lib.eng_touches_of_customer, org.encode(), customer, cb, None)
        return out

    def touch_counts(self, org: str, campaign: int, message: int = 0) -> dict:
        """Sends of a campaign (or one message) per channel, by the furthest status each reached:
        {"sms": {"sent": n, "delivered": n, ...}, ...} for the channels with sends."""
        k = len(TOUCH_STATUSES)
        counts = (ctypes.c_uint64 * (_n.CH_COUNT * k))()
        self._call(_n.lib.eng_touch_status_counts, org.encode(), campaign, message, counts, len(counts))
        out = {}
        for ch in range(_n.CH_COUNT):
            row = {name: counts[ch * k + i] for name, i in TOUCH_STATUSES.items()}
            if any(row.values()):
                out[channel_name(ch)] = row
        return out

    def add_transaction_field(self, org: str, name: str, type_name: str) -> None:
        self._call(_n.lib.eng_txn_field_add, org.encode(), name.encode(), TXN_FIELD_TYPES[type_name])

    def append_transactions(self, org: str, txns: Sequence[dict], skip_bad_rows: Optional[int] = None) -> dict:
        """Append transactions: dicts with id, customer (external id), time (ms, or an aware
        datetime), amount (currency units; exact with Decimal or text), optionally store and items
        (SKUs), and "fields": {name: value} for the org's custom fields (add_transaction_field; a
        value as the CSV would give it, None or absent for null). Returns the report."""
        n = len(txns)
        keep: List[object] = []
        b = _n.TxnBatch(version=1, count=n)
        b.ids = strarray([t["id"] for t in txns], keep)
        b.customers = strarray([t["customer"] for t in txns], keep)
        tm = (ctypes.c_int64 * max(n, 1))(*[ms(t["time"], "txns.time") for t in txns])
        am = (ctypes.c_int64 * max(n, 1))(*[_amount(t["amount"], f"txns[{i}].amount") for i, t in enumerate(txns)])
        b.times, b.amounts = tm, am
        if any("store" in t for t in txns):
            st = (ctypes.c_char_p * max(n, 1))(*[cstr(t.get("store"), keep) for t in txns])
            b.stores = ctypes.cast(st, _n.c_char_pp)
            keep.append(st)
        if any(t.get("items") for t in txns):
            counts = (ctypes.c_uint32 * max(n, 1))(*[len(t.get("items", ())) for t in txns])
            b.item_counts, b.items = counts, strarray([i for t in txns for i in t.get("items", ())], keep)
            keep.append(counts)
        names = sorted({k for t in txns for k in t.get("fields") or ()})
        if names:
            vals = [(t.get("fields") or {}).get(k) for t in txns for k in names]
            fv = (ctypes.c_char_p * len(vals))(*[cstr(None if v is None else _field_text(v), keep) for v in vals])
            b.nfields, b.field_names = len(names), strarray(names, keep)
            b.field_values = ctypes.cast(fv, _n.c_char_pp)
            keep.append(fv)
        rep = _n.new(_n.EventReport)
        opts = _options(skip_bad_rows)
        self._call(_n.lib.eng_txn_append, org.encode(), ctypes.byref(b), ctypes.byref(opts), ctypes.byref(rep))
        return _event_dict(rep)

    def import_transactions_csv(self, org: str, data, skip_bad_rows: Optional[int] = None) -> dict:
        """Import transactions from CSV: text, bytes, or a file object read in chunks (columns id,
        customer, time, amount, store, items and declared fields). Returns the report."""
        rep = _n.new(_n.EventReport)
        opts = _options(skip_bad_rows)
        if hasattr(data, "read"):
            cb = reader(data, self._sink)
            self._call(_n.lib.eng_txn_import_csv, org.encode(), cb, None, ctypes.byref(opts), ctypes.byref(rep))
            return _event_dict(rep)
        raw = data.encode() if isinstance(data, str) else bytes(data)
        self._call(_n.lib.eng_txn_import_csv_buffer, org.encode(), raw, len(raw), ctypes.byref(opts),
                   ctypes.byref(rep))
        return _event_dict(rep)

    def transactions(self, org: str, customer: Optional[str] = None, start: int = 0,
                     end: int = 2 ** 62) -> Iterator[dict]:
        """The org's transactions in [start, end), or one customer's (external id); amounts as Decimal."""
        out: List[dict] = []

        def fn(row, user):
            t = row.contents
            out.append({"id": t.id.decode(), "customer": (t.external_id or b"").decode(), "time": t.time,
                        "amount": Decimal(t.amount) / 10000, "store": (t.store or b"").decode() or None,
                        "items": [t.items[i].decode() for i in range(t.n_items)]})
            return 0
        cb = _n.TXN_FN(fn)
        self._call(_n.lib.eng_txn_scan, org.encode(), customer.encode() if customer else None, start, end, cb, None)
        return iter(out)

    def set_retention(self, actor: str, days: int) -> None:
        """Keep the org's events ``days`` days (0: for ever); older ones go at compact_events()."""
        self._call(_n.lib.eng_events_set_retention, actor.encode(), days)

    def compact_events(self) -> None:
        """Seal the open event segments and apply every org's retention."""
        self._call(_n.lib.eng_events_compact)

    def events_complete_from(self, org: str) -> int:
        """From when the org's events are complete (the last retention cut; 0: nothing dropped)."""
        t = ctypes.c_int64()
        self._call(_n.lib.eng_events_data_from, org.encode(), ctypes.byref(t))
        return t.value

    def pending_receipts(self) -> int:
        """Receipts kept waiting because no send matched their key yet."""
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_touch_pending, ctypes.byref(n))
        return n.value

    def sends_in_doubt(self) -> int:
        """Sends expired in doubt (handed over, never answered) that no receipt has confirmed yet."""
        n = ctypes.c_uint64()
        self._call(_n.lib.eng_touch_in_doubt, ctypes.byref(n))
        return n.value


__all__: Iterable[str] = ["EventsMixin", "TOUCH_STATUSES"]
