"""The offers catalogue (include/engage/offer.h): named coupon offers of an org that messages
claim with ``create_message(..., offer_id=...)``."""
import ctypes
from typing import List, Optional

from . import _native as _n
from ._util import require

SOURCES = {"common": 0, "uploaded": 1, "generated": 2}
_SOURCE_NAMES = {v: k for k, v in SOURCES.items()}


def _offer_dict(o) -> dict:
    def d(b):
        return (b or b"").decode()
    return {"id": d(o.id), "name": d(o.name), "valid_from": o.valid_from, "valid_until": o.valid_until,
            "source": _SOURCE_NAMES.get(o.coupon_source, o.coupon_source), "code": d(o.coupon_code) or None,
            "pool": d(o.coupon_pool) or None}


class OffersMixin:
    def _offer_spec(self, keep: list, id: str, name: str, valid_from: int, valid_until: int,
                    code: Optional[str], pool: Optional[str], source: Optional[str]):
        o = _n.new(_n.OfferSpec)
        if source is None:
            source = "common" if pool is None else "uploaded"
        vals = [s.encode() if s is not None else None for s in (id, name, code, pool)]
        keep += vals
        o.id, o.name, o.coupon_code, o.coupon_pool = vals
        o.valid_from, o.valid_until, o.coupon_source = valid_from, valid_until, SOURCES[source]
        return o

    def create_offer(self, actor: str, id: str, name: str, valid_from: int, valid_until: int,
                     code: Optional[str] = None, pool: Optional[str] = None, source: Optional[str] = None) -> None:
        """Add an offer: a common ``code``, or a ``pool`` of "uploaded" (default) or "generated"
        codes (``source``); valid from ``valid_from`` to ``valid_until`` (ms), which must lie inside
        the dates of each campaign whose message claims it. A bad field raises with its path
        (``offer.coupon_code``) in the error's detail."""
        require("eng_offer_create")
        keep: list = []
        o = self._offer_spec(keep, id, name, valid_from, valid_until, code, pool, source)
        self._call(_n.lib.eng_offer_create, actor.encode(), ctypes.byref(o))

    def update_offer(self, actor: str, id: str, name: str, valid_from: int, valid_until: int,
                     code: Optional[str] = None, pool: Optional[str] = None, source: Optional[str] = None) -> None:
        """Replace an offer (same fields as create_offer). Messages keep the terms they claimed;
        a draft must claim it again (update_message) before it is submitted."""
        require("eng_offer_update")
        keep: list = []
        o = self._offer_spec(keep, id, name, valid_from, valid_until, code, pool, source)
        self._call(_n.lib.eng_offer_update, actor.encode(), ctypes.byref(o))

    def remove_offer(self, actor: str, id: str) -> None:
        """Remove an offer from the catalogue."""
        require("eng_offer_remove")
        self._call(_n.lib.eng_offer_remove, actor.encode(), id.encode())

    def offer(self, actor: str, id: str) -> dict:
        """One offer: id, name, valid_from, valid_until, source, code, pool."""
        require("eng_offer_get")
        o = _n.new(_n.OfferSpec)
        self._call(_n.lib.eng_offer_get, actor.encode(), id.encode(), ctypes.byref(o))
        return _offer_dict(o)

    def offers(self, actor: str) -> List[dict]:
        """Every offer of the actor's org, in id order."""
        require("eng_offer_list")
        it = ctypes.c_void_p()
        self._call(_n.lib.eng_offer_list, actor.encode(), ctypes.byref(it))
        out = []
        try:
            while True:
                o = _n.new(_n.OfferSpec)
                rc = _n.lib.eng_offer_next(it, ctypes.byref(o))
                if rc == -25:  # ENG_ITEROVER
                    return out
                self._raise_if(rc)
                out.append(_offer_dict(o))
        finally:
            _n.lib.eng_offer_iter_free(it)
