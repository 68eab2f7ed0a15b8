"""Execution: running what is due through the transport, executions, sends, traces, dry runs."""
import ctypes
from typing import Iterator, List, Optional, Sequence

from . import _native as _n
from ._util import _channel_names, channel_id, channel_name, channels
from .errors import ENG_ERROR, EngageError

EXEC_STATES = ("none", "running", "finished", "refused")
POC_CUSTOMER = 0xFFFFFFFF  # the customer of an envelope that is a POC copy (ENG_POC_CUSTOMER): not a customer
LEDGER_STATES = ("pending", "accepted", "rejected", "retry", "unknown", "expired", "skipped")
TRACE_REASONS = ("not_in_audience", "control", "not_planned", "unreachable", "chosen")
TRACE_RULES = ("undecided", "all", "priority", "variant", "base", "xengage", "unreachable")
UNREACH = {0: "reachable", 1: "no_contact", 2: "no_consent", 3: "opted_out", 4: "suppressed", 5: "no_coupon", 16: "render"}


class DispatchMixin:
    """eng_run_due and what it leaves in the send ledger (include/engage/dispatch.h)."""

    def run_due(self, actor: str, now: Optional[int] = None, message: int = 0, max_batches: int = 0) -> dict:
        """Execute what is due at ``now`` (default: the engine's clock) through the engine's
        transport; ``message`` limits it to one message, ``max_batches`` to that many transport
        batches (the rest resumes on the next call). Returns what the call did."""
        o = _n.RunOptions(version=1, message=message, max_batches=max_batches)
        rep = _n.new(_n.RunReport)
        self._call(_n.lib.eng_run_due, actor.encode(), self.now() if now is None else now, ctypes.byref(o),
                   ctypes.byref(rep))
        out = {k: getattr(rep, k) for k, _ in _n.RunReport._fields_ if k != "version"}
        out["next_due"] = rep.next_due or None
        return out

    def preview(self, actor: str, message: int, channel: str, customer: Optional[int] = None) -> dict:
        """A message rendered for a customer (dense id; None: a sample with every attribute
        missing) on a channel, in any state, nothing sent or stored: body, subject, recipient,
        sender, segments, cost, why an execution would skip the customer ("reachable"), and for a
        personalised message the variant an execution would choose now ("variant" index or None,
        its "variant_channel" and "variant_rule", and "rule": "variant", "base", "unreachable";
        "undecided" for the sample and other strategies); the body is the variant's on its channel."""
        from ._util import require
        require("eng_message_preview")
        p = _n.new(_n.Preview)
        cust = 0xFFFFFFFF if customer is None else customer
        self._call(_n.lib.eng_message_preview, actor.encode(), message, cust, channel_id(channel), None, 0,
                   ctypes.byref(p))
        buf = ctypes.create_string_buffer(p.body_len + 1)
        self._call(_n.lib.eng_message_preview, actor.encode(), message, cust, channel_id(channel), buf,
                   p.body_len + 1, ctypes.byref(p))
        return {"body": buf.value.decode(errors="replace"), "subject": p.subject.decode(errors="replace"),
                "recipient": p.recipient.decode(errors="replace"), "sender": p.sender.decode(),
                "segments": p.segments, "cost": p.cost, "reachable": UNREACH.get(p.unreach, p.unreach),
                "rule": TRACE_RULES[p.rule] if 0 <= p.rule < len(TRACE_RULES) else p.rule,
                "variant": None if p.variant < 0 else p.variant,
                "variant_channel": None if p.variant_channel < 0 else channel_name(p.variant_channel),
                "variant_rule": p.variant_rule.decode(errors="replace") or None}

    def test_send(self, actor: str, message: int, channel: str, recipients, customer: Optional[int] = None) -> list:
        """Send the message as rendered for ``customer`` (None: the sample) to test recipients
        through the transport, once: not counted as contacted, not charged, nothing stored.
        Returns one status per recipient ("accepted", ..., or None when unanswered)."""
        from ._util import require
        from .callbacks import SEND_STATUS
        require("eng_message_test_send")
        arr = (ctypes.c_char_p * len(recipients))(*[r.encode() for r in recipients])
        st = (ctypes.c_int * max(len(recipients), 1))()
        cust = 0xFFFFFFFF if customer is None else customer
        self._call(_n.lib.eng_message_test_send, actor.encode(), message, cust, channel_id(channel), arr,
                   len(recipients), st)
        names = {v: k for k, v in SEND_STATUS.items()}
        return [names.get(st[i]) for i in range(len(recipients))]

    def execution(self, actor: str, message: int, occurrence: int = 0) -> dict:
        """The execution of one occurrence of a message (state "none" before it starts)."""
        x = _n.new(_n.ExecutionInfo)
        self._call(_n.lib.eng_execution_get, actor.encode(), message, occurrence, ctypes.byref(x))
        out = {k: getattr(x, k) for k, _ in _n.ExecutionInfo._fields_ if k not in ("version", "state", "reason")}
        out["state"] = EXEC_STATES[x.state]
        out["reason"] = x.reason.decode(errors="replace") or None
        return out

    def send(self, actor: str, message: int, customer: int, channel: str, occurrence: int = 0) -> dict:
        """The ledger entry of one send: state, attempts, next retry time and idempotency key."""
        s = _n.new(_n.SendInfo)
        self._call(_n.lib.eng_send_get, actor.encode(), message, occurrence, customer, channel_id(channel),
                   ctypes.byref(s))
        return {"state": LEDGER_STATES[s.state], "attempts": s.attempts, "next_at": s.next_at or None,
                "key": s.key.decode()}

    def send_keys(self, actor: str, message: int, customers: Sequence[int], channel: str,
                  occurrence: int = 0) -> List[str]:
        """The idempotency keys of planned sends of one channel, one per customer (dense ids): what a
        host hands back with receipts for sends it never saw as envelopes (an ad export gives
        hashed identifiers; the host maps them to its customers). The first key is read from the
        ledger (eng_send_get: NotFound when that send is not planned); the others follow its layout,
        ``<org>/c<campaign>/m<message>.<version>/o<occurrence>/u<customer>/<channel>``
        (include/engage/dispatch.h), without a ledger read each (about 0.15 ms a read, the
        customer's chunk decoded every time). A key of a send that was not planned matches nothing:
        its receipt stays pending (pending_receipts())."""
        customers = list(customers)
        if not customers:
            return []
        first = self.send(actor, message, customers[0], channel, occurrence)["key"]
        tail = f"/u{customers[0]}/{channel}"
        if not first.endswith(tail):
            raise EngageError(ENG_ERROR, f"send key {first!r} does not end with {tail!r}", "key")
        prefix = first[:len(first) - len(tail)] + "/u"
        return [first] + [f"{prefix}{int(c)}/{channel}" for c in customers[1:]]

    def trace(self, actor: str, message: int, customer: int, occurrence: int = 0, xengage: bool = True) -> dict:
        """Why a customer was or was not contacted, and on which channels with what outcome; for an
        X-Engage decision also "xengage": the chosen channel, exploration and its propensity, and per
        reachable channel the estimates, the draws used, the cost and the score. That part replays
        the decision from the execution's stored model, which the engine reads once and keeps for
        the next calls (a pass over many customers costs one read); ``xengage=False`` leaves it
        out (eng_trace version 1)."""
        t = _n.Trace(version=2 if xengage else 1)
        self._call(_n.lib.eng_trace_get, actor.encode(), message, occurrence, customer, ctypes.byref(t))
        names = _channel_names()
        state, unreach = t.state[:], t.unreach[:]
        out = {"reason": TRACE_REASONS[t.reason], "rule": TRACE_RULES[t.rule], "detail": t.detail,
               "variant": t.variant if t.variant >= 0 else None,
               "channels": {names[c]: LEDGER_STATES[state[c]] for c in range(_n.CH_COUNT)
                            if t.channels >> c & 1 and state[c] >= 0},
               "unreachable": {names[c]: UNREACH.get(u, u) for c, u in enumerate(unreach) if u}}
        if xengage and t.xe_known:  # X-Engage: why this channel, replayed from the model the decision used
            out["xengage"] = {
                "channel": names[t.xe_channel] if t.xe_channel >= 0 else None,
                "explored": bool(t.xe_explored), "guard": bool(t.xe_guard),
                "propensity": t.xe_propensity if t.xe_explored else None, "value": t.xe_value,
                "model_time": t.xe_model_time, "segment": t.xe_segment,
                "estimates": {names[c]: {
                    "engagement": t.xe_engagement[c], "engagement_used": t.xe_engagement_used[c],
                    "conversion": t.xe_conversion[c], "conversion_used": t.xe_conversion_used[c],
                    "delivery": t.xe_delivery[c], "cost": t.xe_cost[c], "score": t.xe_score[c],
                    "sent": t.xe_sent[c], "engaged": t.xe_engaged[c]}
                    for c in range(_n.CH_COUNT) if t.xe_reachable >> c & 1}}
        return out

    def traces(self, actor: str, message: int, occurrence: int = 0, xengage: bool = True) -> Iterator[dict]:
        """The trace of every customer of the message's frozen audience (test group, then
        control), each with its dense id under "customer" (an iterator; see trace() for
        ``xengage``)."""
        with self.message_audience(actor, message) as aud:
            ids = list(aud.ids("test")) + list(aud.ids("control"))
        for customer in ids:
            yield dict(self.trace(actor, message, customer, occurrence, xengage), customer=customer)

    def dry_run(self, actor: str, message: int) -> dict:
        """What an execution of an approved message would do now, with nothing sent or stored."""
        d = _n.new(_n.DryReport)
        self._call(_n.lib.eng_dry_run, actor.encode(), message, ctypes.byref(d))
        return {"audience": d.audience, "control": d.control, "contacted": d.contacted,
                "unreachable": d.unreachable, "segments": d.segments, "credits": d.credits, "coupons": d.coupons,
                "coupons_available": d.coupons_available,
                "sends": {name: d.sends[i] for name, i in channels().items() if d.sends[i]},
                "skipped": {UNREACH[r]: d.skipped[r] for r in UNREACH if r and d.skipped[r]}}

    def apply_unsubscribe(self, org: str, token: str) -> dict:
        """Verify an unsubscribe link's token for ``org`` and record the opt-out (twice is
        harmless); returns the campaign, customer (dense id) and channel it was for. A forged
        token raises Denied and records nothing."""
        x = _n.new(_n.UnsubscribeInfo)
        self._call(_n.lib.eng_unsubscribe_apply, org.encode(), token.encode(), ctypes.byref(x))
        return {"campaign": x.campaign, "customer": x.customer, "channel": channel_name(x.channel)}

    def setup_unsubscribe(self, actor: str, landing_url: str, secret: bytes) -> None:
        """Set up the org's signed {{unsubscribe}} links (secret: 16..256 bytes)."""
        self._call(_n.lib.eng_unsubscribe_setup, actor.encode(), landing_url.encode(), secret, len(secret))
