"""Coupon pools: uploaded code lists and codes generated from a pattern, one per customer,
never handed out twice (include/engage/coupon.h; libraries that have it)."""
import ctypes
from typing import List, Optional, Sequence

from . import _native as _n
from ._util import require, strarray

POOL_KINDS = {1: "uploaded", 2: "generated"}


class CouponsMixin:
    def upload_coupons(self, actor: str, pool: str, codes: Sequence[str]) -> None:
        """Add codes to an uploaded pool (created on first use); all or nothing, the bad code
        named in the error's detail (``codes[i]``)."""
        require("eng_coupon_pool_upload")
        keep: List[object] = []
        self._call(_n.lib.eng_coupon_pool_upload, actor.encode(), pool.encode(), strarray(codes, keep), len(codes))

    def generate_coupons(self, actor: str, pool: str, pattern: str, secret: bytes) -> None:
        """Create a pool of codes generated from ``pattern`` (``#`` digit, ``@`` letter, ``*``
        either), keyed by ``secret`` (16..256 bytes) so codes cannot be guessed."""
        require("eng_coupon_pool_generate")
        self._call(_n.lib.eng_coupon_pool_generate, actor.encode(), pool.encode(), pattern.encode(), secret,
                   len(secret))

    def coupon_pool(self, actor: str, pool: str) -> dict:
        """A pool's kind, size, codes handed out so far and pattern."""
        require("eng_coupon_pool_get")
        x = _n.new(_n.CouponPoolInfo)
        self._call(_n.lib.eng_coupon_pool_get, actor.encode(), pool.encode(), ctypes.byref(x))
        return {"kind": POOL_KINDS.get(x.kind, x.kind), "size": x.size, "assigned": x.assigned,
                "pattern": x.pattern.decode() or None}

    def coupon_of(self, actor: str, pool: str, customer: int) -> Optional[dict]:
        """The code a customer (dense id) holds from a pool, or None when they hold none."""
        require("eng_coupon_find")
        x = _n.new(_n.CouponAssignment)
        rc = _n.lib.eng_coupon_find(self._handle(), actor.encode(), pool.encode(), customer, ctypes.byref(x))
        if rc == -4:  # ENG_ENOTFOUND: no code for this customer (an unknown pool raises below)
            e = _n.lib.eng_error_last().contents
            if b"pool" not in (e.detail or b""):
                return None
        self._raise_if(rc)
        return {"code": x.code.decode(), "index": x.index, "message": x.message, "occurrence": x.occurrence,
                "at": x.at}
