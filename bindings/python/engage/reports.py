"""Campaign reports: figures for the campaign, each channel and each message, the off-policy
estimates of an X-Engage campaign, and exports as JSON or CSV."""
import ctypes
import json
from decimal import Decimal
from typing import Iterator, Optional

from . import _native as _n
from ._util import channel_id, channel_name
from .errors import check

OPE_POLICIES = {"xengage": 0, "priority": 1, "send_all": 2, "greedy": 3}
_MONEY = ("responder_sales", "spend_per_responder", "incremental_sales")
_KNOWN = {"spend_per_responder": "spend_per_responder_known", "control_hit_rate": "control_known",
          "lift": "lift_known", "lift_ci_low": "lift_known", "lift_ci_high": "lift_known",
          "p_value": "lift_known", "incremental_sales": "incremental_known"}


def figures_dict(f) -> dict:
    """An eng_report_figures as a dict: money as Decimal in currency units, unknown figures None."""
    out = {}
    scale = Decimal(10) ** f.currency_places
    for name, _ in _n.ReportFigures._fields_:
        if name in ("version", "currency_places") or name.endswith("_known"):
            continue
        v = getattr(f, name)
        if name in _KNOWN and not getattr(f, _KNOWN[name]):
            v = None
        elif name in _MONEY:
            v = Decimal(v) / scale
        out[name] = v
    out["responder_def"] = "goal" if f.responder_def == 1 else "hit_rate"
    return out


class Report:
    """A campaign report (eng_campaign_report). A context manager; ``to_dict()`` gives everything."""

    def __init__(self, engine, handle):
        self._engine, self._h = engine, handle
        # the C engine, kept alive by the report even after Engine.close(): what its text is freed on
        self._eh = engine._handle()

    def _figures(self, fn, *args) -> dict:
        f = _n.new(_n.ReportFigures)
        check(fn(self._h, *args, ctypes.byref(f)))
        return figures_dict(f)

    def total(self) -> dict:
        """The campaign's figures."""
        return self._figures(_n.lib.eng_report_total)

    def channel(self, channel) -> dict:
        """The figures of one channel (name or number)."""
        return self._figures(_n.lib.eng_report_channel, channel_id(channel))

    def channels(self) -> dict:
        """The figures of every channel with a send, by name."""
        out = {}
        for c in range(_n.CH_COUNT):
            f = self.channel(c)
            if f["sent"]:
                out[channel_name(c)] = f
        return out

    def messages(self) -> Iterator[dict]:
        """The figures of each message (with its id under "message"), in campaign order."""
        for i in range(_n.lib.eng_report_message_count(self._h)):
            mid = ctypes.c_uint32()
            f = _n.new(_n.ReportFigures)
            check(_n.lib.eng_report_message(self._h, i, ctypes.byref(mid), ctypes.byref(f)))
            yield dict(figures_dict(f), message=mid.value)

    def ope(self, policy: str) -> Optional[dict]:
        """The off-policy estimate of a policy on the campaign's X-Engage message (net credits per
        test-group customer, IPW and doubly robust with 95 % intervals), or None when unknown."""
        e = _n.new(_n.OpeEstimate)
        check(_n.lib.eng_report_ope(self._h, OPE_POLICIES[policy], ctypes.byref(e)))
        if not e.known:
            return None
        return {k: getattr(e, k) for k, _ in _n.OpeEstimate._fields_ if k not in ("version", "known")}

    def export(self, fmt: str = "json") -> str:
        """The report as the library exports it: "json" or "csv" text."""
        text, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(_n.lib.eng_report_export(self._h, {"json": 0, "csv": 1}[fmt], ctypes.byref(text), ctypes.byref(n)))
        try:
            return ctypes.string_at(text, n.value).decode()
        finally:
            _n.lib.eng_free(self._eh, text)

    def to_dict(self) -> dict:
        return {"total": self.total(), "channels": self.channels(), "messages": list(self.messages()),
                "ope": {p: self.ope(p) for p in OPE_POLICIES}}

    def close(self):
        if self._h:
            h, self._h = self._h, None
            _n.lib.eng_report_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class ReportsMixin:
    def campaign_report(self, actor: str, campaign: int, currency_places: int = 2, half_life: int = 0,
                        credits_per_unit: float = 1.0, threads: int = 1) -> Report:
        """The report of a campaign from what the engine stores (attribution by the campaign's goal,
        or responders between first touch and campaign end without one). ``threads``: parts the
        run is cut into, the calling thread being one (at most the engine's ``threads`` + 1 are used);
        the report is the same whatever the number."""
        o = _n.CampaignReportOptions(version=2, half_life=half_life, currency_places=currency_places,
                                     credits_per_unit=credits_per_unit, threads=threads)
        r = ctypes.c_void_p()
        self._call(_n.lib.eng_campaign_report, actor.encode(), campaign, ctypes.byref(o), ctypes.byref(r))
        return Report(self, r)


__all__ = ["Report", "ReportsMixin", "figures_dict", "OPE_POLICIES", "json"]
