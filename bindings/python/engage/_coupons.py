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


class AdsMixin:
    """Ad audiences (engage/dispatch.h): customers chosen for an ad channel leave through a
    Python export callback as hashed identifiers, never through the transport."""

    def _set_hooks(self) -> None:
        """Hand the dispatcher every hook set so far (eng_dispatch_hooks_set copies the whole table)."""
        h = getattr(self, "_hooks_now", {})
        v2 = _n.has("eng_tiny_url_request_init")
        v3 = _n.has("eng_points_award_init")
        if not any(h.values()):
            self._call(_n.lib.eng_dispatch_hooks_set, None, None)
            return
        hooks = _n.DispatchHooks(version=3 if v3 else 2 if v2 else 1)
        if h.get("ad_export"):
            hooks.ad_export = h["ad_export"]
        if h.get("tiny_url"):
            hooks.tiny_url = h["tiny_url"]
        for ch, rate in (h.get("rate") or {}).items():
            hooks.rate_limit[ch] = rate
        if h.get("points"):
            hooks.points = h["points"]
        self._call(_n.lib.eng_dispatch_hooks_set, ctypes.byref(hooks), None)

    def _hooks_put(self, name: str, value) -> None:
        if not hasattr(self, "_hooks_now"):
            self._hooks_now = {}
        self._hooks_now[name] = value
        if value is not None:
            self._keep.append(value)
        self._set_hooks()

    def set_ad_export(self, fn) -> None:
        """fn(manifest: dict, hashes: list of hex str) -> "accepted" (or another send status) for
        the whole part; raising counts as "unknown" and the part is retried with the same key.
        Not stored: set it after each open. None clears it."""
        require("eng_dispatch_hooks_set")
        from .callbacks import SEND_STATUS
        from ._util import channel_name
        if fn is None:
            self._hooks_put("ad_export", None)
            return

        def export(manifest, hashes, status, user):
            try:
                m = manifest.contents
                md = {"key": m.idempotency_key.decode(), "campaign": m.campaign, "message": m.message,
                      "occurrence": m.occurrence, "channel": channel_name(m.channel), "part": m.part,
                      "count": m.count, "list_sha256": m.list_sha256.decode()}
                res = fn(md, [hashes[i].decode() for i in range(m.count)])
                status[0] = SEND_STATUS[res] if isinstance(res, str) else int(res)
                return 0
            except BaseException as exc:  # noqa: B902 - nothing may cross into C
                return self._sink.record(exc, "ad export")
        self._keep.append(fn)
        self._hooks_put("ad_export", _n.AD_EXPORT_FN(export))

    def set_tiny_url(self, fn) -> None:
        """fn(request: dict) -> str: the short link for one ``{{tiny_url}}`` of one send (request:
        key, url, campaign, message, occurrence, customer, channel). Return the same link for the
        same key; hand the key back with a click receipt (touch_append) to record the click.
        Raising (or a link with white space) delays that send: it is tried again after a backoff.
        Not stored: set it after each open. None clears it."""
        require("eng_tiny_url_request_init")
        from ._util import channel_name
        if fn is None:
            self._hooks_put("tiny_url", None)
            return

        def shorten(req, out, cap, user):
            try:
                q = req.contents
                link = fn({"key": q.idempotency_key.decode(), "url": q.url.decode(), "campaign": q.campaign,
                           "message": q.message, "occurrence": q.occurrence, "customer": q.customer,
                           "channel": channel_name(q.channel)})
                b = str(link).encode()
                if len(b) + 1 > cap:
                    return -1
                ctypes.memmove(out, b + b"\0", len(b) + 1)
                return 0
            except BaseException as exc:  # noqa: B902 - nothing may cross into C
                return self._sink.record(exc, "tiny url")
        self._keep.append(fn)
        self._hooks_put("tiny_url", _n.TINY_URL_FN(shorten))

    def set_points(self, fn) -> None:
        """fn(awards: list of dict) -> list of statuses ("accepted", "rejected", "retry",
        "unknown"), one per award: loyalty points a message's points incentive awards, once per
        customer per occurrence (award: key, org, campaign, message, occurrence, customer,
        points, expiry_days, attempt, expires_at). De-duplicate by key: an award whose answer
        was lost is asked again with the same key. Raising counts as "unknown" for all. Not
        stored: set it after each open (until then due awards wait). None clears it."""
        require("eng_points_award_init")
        from .callbacks import SEND_STATUS
        if fn is None:
            self._hooks_put("points", None)
            return

        def award(awards, n, status, user):
            try:
                rows = [{"key": a.idempotency_key.decode(), "org": a.org.decode(), "campaign": a.campaign,
                         "message": a.message, "occurrence": a.occurrence, "customer": a.customer,
                         "points": a.points, "expiry_days": a.expiry_days, "attempt": a.attempt,
                         "expires_at": a.expires_at} for a in (awards[i] for i in range(n))]
                res = list(fn(rows))
                for i in range(min(n, len(res))):
                    if res[i] is not None:
                        status[i] = SEND_STATUS[res[i]] if isinstance(res[i], str) else int(res[i])
                return 0
            except BaseException as exc:  # noqa: B902 - nothing may cross into C
                return self._sink.record(exc, "points")
        self._keep.append(fn)
        self._hooks_put("points", _n.POINTS_FN(award))

    def set_rate_limits(self, limits) -> None:
        """Messages per second per channel handed to the transport, e.g. ``{"sms": 50}`` (0 or a
        missing channel: no limit); honoured across threads, batches and run_due calls. Not stored:
        set it after each open. None or {} clears them."""
        require("eng_tiny_url_request_init")
        from ._util import channel_id
        rate = {}
        for ch, r in (limits or {}).items():
            if not isinstance(r, int) or r < 0 or r > 0xFFFFFFFF:
                from .errors import ENG_EINVAL, InvalidArgument
                raise InvalidArgument(ENG_EINVAL, f"rate limit of {ch!r} must be a whole number of messages "
                                      "per second", f"limits[{ch!r}]")
            rate[channel_id(ch)] = r
        self._hooks_put("rate", rate or None)


def ad_identifier_hash(channel: str, contact: str) -> str:
    """The identifier an ad export carries for a contact (normalised, SHA-256, hex)."""
    require("eng_ad_identifier_hash")
    from ._util import channel_id
    from .errors import check
    out = ctypes.create_string_buffer(65)
    check(_n.lib.eng_ad_identifier_hash(channel_id(channel), contact.encode(), out, 65))
    return out.value.decode()


def ad_identifier_hashes(channel: str, contacts: Sequence[str]) -> List[str]:
    """ad_identifier_hash of each contact, in order: what a host that maps an ad export's
    identifiers back to its customers computes for all of them (one buffer, the checks once;
    about half the time of a call each). A contact that is neither an email nor a phone raises
    InvalidArgument naming it (``contacts[i]``)."""
    require("eng_ad_identifier_hash")
    from ._util import channel_id
    from .errors import error_from_last
    ch, out, fn = channel_id(channel), ctypes.create_string_buffer(65), _n.lib.eng_ad_identifier_hash
    res = []
    for i, c in enumerate(contacts):
        rc = fn(ch, c.encode(), out, 65)
        if rc < 0:
            e = error_from_last(rc)
            if e.detail == "channel":
                raise e
            raise type(e)(e.code, f"contacts[{i}] ({c!r}): {e.message}", f"contacts[{i}]")
        res.append(out.value.decode())
    return res
