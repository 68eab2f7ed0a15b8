"""Attribution over the host's own columns (engage/measure.h): a campaign's report, or the org
dashboard, from touches and transactions given as Python rows rather than read from the store."""
import ctypes
from decimal import Decimal
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from . import _native as _n
from ._columns import Columns
from ._events import TOUCH_STATUSES, _amount
from ._model import _goal
from ._util import CREDITS, channel_id, whole
from ._util import ms as _ms
from .reports import Report

PERIODS = {"7_days": 0, "1_month": 1, "3_months": 2, "6_months": 3}
AMOUNT_SCALE = 4  # amounts go in as 10^-4 units (exact for Decimal and text)


def _dense(touches: Sequence[dict], transactions: Sequence[dict], controls: Iterable) -> Dict[object, int]:
    """The host's own customer keys (strings, raw ids, anything hashable) numbered 0, 1, ... in
    the order first seen, for a call that leaves n_customers out."""
    ids: Dict[object, int] = {}
    for r in touches:
        ids.setdefault(r["customer"], len(ids))
    for r in transactions:
        ids.setdefault(r["customer"], len(ids))
    for c in controls:
        ids.setdefault(c, len(ids))
    return ids


def _renumber(rows: Sequence[dict], ids: Dict[object, int]) -> List[dict]:
    return [dict(r, customer=ids[r["customer"]]) for r in rows]


def _arr(ctype, items, keep):
    a = (ctype * max(len(items), 1))(*items)
    keep.append(a)
    return a


def _touches(rows: Sequence[dict], keep) -> _n.TouchColumns:
    t = _n.new(_n.TouchColumns)
    t.n = len(rows)
    t.customer = _arr(ctypes.c_uint32, [r["customer"] for r in rows], keep)
    t.message = _arr(ctypes.c_uint32, [r["message"] for r in rows], keep)
    t.channel = _arr(ctypes.c_uint8, [channel_id(r["channel"]) for r in rows], keep)
    t.status = _arr(ctypes.c_uint8, [TOUCH_STATUSES[r["status"]] if isinstance(r["status"], str) else r["status"]
                                     for r in rows], keep)
    t.time = _arr(ctypes.c_int64, [_ms(r["time"], "touches.time") for r in rows], keep)
    if any(r.get("occurrence") for r in rows):  # a recurring message's occurrences: a sending each
        t.occurrence = _arr(ctypes.c_uint32, [r.get("occurrence", 0) for r in rows], keep)
    return t


def _txns(rows: Sequence[dict], fields: Sequence[Tuple], keep) -> _n.TxnColumns:
    """Transactions: customer (dense id), time, amount (currency units), and a value per field of
    ``fields`` (the goal condition's schema) under the field's name."""
    from ._admin import rule_fields
    x = _n.new(_n.TxnColumns)
    x.n = len(rows)
    x.customer = _arr(ctypes.c_uint32, [r["customer"] for r in rows], keep)
    x.time = _arr(ctypes.c_int64, [_ms(r["time"], "txns.time") for r in rows], keep)
    x.amount = _arr(ctypes.c_int64, [_amount(r["amount"]) for r in rows], keep)
    x.amount_scale = AMOUNT_SCALE
    if fields:
        norm = [(f[0], f[1], f[2] if len(f) > 2 else (4 if f[1] == "decimal" else 0)) for f in fields]
        cols = Columns(norm, {f[0]: [r.get(f[0]) for r in rows] for f in norm}, len(rows))
        keep.append(cols)
        x.fields, x.nfields, x.columns = rule_fields(norm, keep), len(norm), cols.array
    return x


def _spec(s: dict, keep) -> _n.MeasureSpec:
    m = _n.MeasureSpec()
    _n.lib.eng_measure_spec_init(ctypes.byref(m), 1)
    msgs = list(s["messages"])
    m.n_customers, m.messages, m.n_messages = s["n_customers"], _arr(ctypes.c_uint32, msgs, keep), len(msgs)
    if s.get("message_sent_at") is not None:
        m.message_sent_at = _arr(ctypes.c_int64, [_ms(t, "message_sent_at") for t in s["message_sent_at"]], keep)
    m.start, m.end = _ms(s["start"], "start"), _ms(s["end"], "end")
    if s.get("goal"):
        m.has_goal = 1
        m.goal = _goal(s["goal"], keep)
    m.half_life = s.get("half_life", 0)
    control = list(s.get("control", ()))
    m.control, m.n_control = _arr(ctypes.c_uint32, control, keep), len(control)
    if s.get("channel_costs"):
        costs = [0] * _n.MAX_CHANNELS
        for ch, c in s["channel_costs"].items():
            costs[channel_id(ch)] = whole(c, f"channel_costs[{ch!r}]", CREDITS)
        m.channel_cost = _arr(ctypes.c_int64, costs, keep)
    m.currency_places = s.get("currency_places", 2)
    return m


class MeasureMixin:
    def measure_campaign(self, touches: Sequence[dict], transactions: Sequence[dict], *, messages: Sequence[int],
                         n_customers: Optional[int] = None, start: int, end: int, goal: Optional[dict] = None,
                         control: Sequence[int] = (), message_sent_at: Optional[Sequence[int]] = None,
                         channel_costs: Optional[dict] = None, currency_places: int = 2, half_life: int = 0,
                         fields: Sequence[Tuple] = ()) -> Report:
        """Attribute ``transactions`` to a campaign's ``touches`` (eng_measure_campaign) and return
        its Report. Touches: dicts of customer, message, channel, status (a TOUCH_STATUSES name) and
        time. Transactions: customer, time, amount (currency units) and a value for each of
        ``fields``, the (name, type) schema of the goal condition. ``goal`` as for create_campaign
        (None: responders by hit rate); ``control``: the control customers. Customers are dense ids
        below ``n_customers``, or, with n_customers left out, the host's own keys (strings, raw
        ids: anything hashable), numbered here. Times (start, end, message_sent_at, each row's) are
        ms since 1970 or aware datetimes. Bad columns raise InvalidArgument naming the column and row."""
        keep: List[object] = []
        if n_customers is None:
            ids = _dense(touches, transactions, control)
            touches, transactions = _renumber(touches, ids), _renumber(transactions, ids)
            control, n_customers = [ids[c] for c in control], len(ids)
        spec = _spec({"messages": messages, "n_customers": n_customers, "start": start, "end": end, "goal": goal,
                      "control": control, "message_sent_at": message_sent_at, "channel_costs": channel_costs,
                      "currency_places": currency_places, "half_life": half_life}, keep)
        t, x = _touches(touches, keep), _txns(transactions, fields, keep)
        r = ctypes.c_void_p()
        self._call(_n.lib.eng_measure_campaign, ctypes.byref(t), ctypes.byref(x), ctypes.byref(spec), ctypes.byref(r))
        return Report(self, r)

    def measure_org(self, touches: Sequence[dict], transactions: Sequence[dict], campaigns: Sequence[dict], now: int,
                    period: str = "7_days", credits_remaining: int = 0, fields: Sequence[Tuple] = ()) -> dict:
        """The org dashboard over ``period`` (one of PERIODS) ending at ``now``: each campaign
        (a dict of measure_campaign's keyword arguments) measured on the period's rows, summed.
        Customers and times as for measure_campaign (keys numbered when a campaign leaves
        n_customers out: one numbering for all)."""
        keep: List[object] = []
        if any(c.get("n_customers") is None for c in campaigns):
            ids = _dense(touches, transactions, [x for c in campaigns for x in c.get("control", ())])
            touches, transactions = _renumber(touches, ids), _renumber(transactions, ids)
            campaigns = [dict(c, n_customers=len(ids), control=[ids[x] for x in c.get("control", ())])
                         for c in campaigns]
        now = _ms(now, "now")
        specs = (_n.MeasureSpec * max(len(campaigns), 1))(*[_spec(c, keep) for c in campaigns])
        t, x = _touches(touches, keep), _txns(transactions, fields, keep)
        f = _n.new(_n.OrgFigures)
        self._call(_n.lib.eng_measure_org, ctypes.byref(t), ctypes.byref(x), specs, len(campaigns), now,
                   PERIODS[period], credits_remaining, ctypes.byref(f))
        scale = Decimal(10) ** f.currency_places
        out = {k: getattr(f, k) for k, _ in _n.OrgFigures._fields_ if k not in ("version", "incremental_known")}
        for k in ("responder_sales", "incremental_sales"):
            out[k] = Decimal(out[k]) / scale
        if not f.incremental_known:
            out["incremental_sales"] = None
        return out
