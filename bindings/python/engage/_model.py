"""The campaign model: orgs, actors, credits, campaigns, messages, approval and the audit chain."""
import ctypes
from typing import Dict, Iterator, List, Optional, Sequence

from . import _native as _n
from ._util import CREDITS, cstr, channel_id, channel_name, pick, strarray, whole

ROLES = {"viewer": 1, "author": 2, "approver": 4, "admin": 8}
SCOPES = {"org": 0, "units": 1, "unit": 2}
XENGAGE_MODES = {"off": 0, "trial": 1, "unlocked": 2}
OBJECTIVES = {"none": 0, "boost_sales": 1, "acquire": 2, "promote_products": 3, "feedback": 4, "retention": 5,
              "winback": 6, "capture_info": 7, "greetings": 8, "store_visits": 9}
STRATEGIES = {"none": 0, "personalization": 1, "channel_priority": 2, "xengage": 3}
STATES = ("draft", "awaiting_approval", "approved", "rejected", "executing", "executed", "stopped")
ACTIONS = {"edit": 0, "submit": 1, "approve": 2, "reject": 3, "start": 4, "finish": 5, "stop": 6}
GOAL_START = {"sent": 0, "delivered": 1, "opened": 2, "clicked": 3}
ATTRIBUTION = {"last_touch": 0, "first_touch": 1, "linear": 2, "time_decay": 3, "position": 4}
GOAL_MODES = {"default": 0, "none": 1, "custom": 2}
REPEAT_UNITS = {"hours": 0, "days": 1, "weeks": 2}  # eng_schedule_unit
CREDIT_ACCOUNTS = {"campaign": 0, "xengage": 1}


def _d(b) -> str:
    return (b or b"").decode(errors="replace")


def _part(cls, init, keep: list):
    """A sub-struct at its defaults (the C *_INIT), kept alive in ``keep`` while the spec that
    points to it is in use."""
    x = cls()
    init(ctypes.byref(x), _n.VERSIONS[cls._c_name_])
    keep.append(x)
    return x


def _goal(spec: Optional[dict], keep: list):
    """A pointer to a goal built from ``spec`` (kept in ``keep``), or None for no goal."""
    if not spec:
        return None
    g = _part(_n.GoalSpec, _n.lib.eng_goal_spec_init, keep)
    g.event = cstr(spec.get("event"), keep)
    g.condition = cstr(spec.get("condition"), keep)
    g.window_days = spec.get("window_days", 30)
    g.start_on = pick(GOAL_START, spec.get("start_on", "sent"), "goal start_on")
    g.attribution = pick(ATTRIBUTION, spec.get("attribution", "last_touch"), "goal attribution")
    return ctypes.pointer(g)


def _goal_dict(p) -> Optional[dict]:
    """The goal a spec points to as a dict (None for a NULL pointer)."""
    if not p:
        return None
    g = p.contents
    inv_s = {v: k for k, v in GOAL_START.items()}
    inv_a = {v: k for k, v in ATTRIBUTION.items()}
    return {"event": _d(g.event) or None, "condition": _d(g.condition) or None, "window_days": g.window_days,
            "start_on": inv_s.get(g.start_on, g.start_on), "attribution": inv_a.get(g.attribution, g.attribution)}


def next_state(state: str, action: str) -> Optional[str]:
    """The message lifecycle table: the state ``action`` (one of ACTIONS) leads to from ``state``
    (one of STATES), or None when the action is not allowed there."""
    from .errors import ENG_EINVAL, InvalidArgument
    if state not in STATES or action not in ACTIONS:
        bad = "state" if state not in STATES else "action"
        raise InvalidArgument(ENG_EINVAL, f"unknown {bad} {state if bad == 'state' else action!r}", bad)
    rc = _n.lib.eng_message_transition(STATES.index(state), ACTIONS[action])
    if rc == -14:  # ENG_ESTATE: not allowed in that state
        return None
    from .errors import check
    return STATES[check(rc)]


def split_seed(org: str, campaign: int) -> int:
    """The seed of a campaign's test/control split (stable across processes and releases)."""
    return _n.lib.eng_campaign_split_seed(org.encode(), campaign)


class ModelMixin:
    """Orgs, actors, credits, campaigns, messages, approval, audit (include/engage/{org,access,
    credits,campaign,message,approval,audit}.h)."""

    # ---- orgs and actors ---------------------------------------------------------------------
    def _settings(self, keep, xengage=None, channel_costs=None, xengage_cost=None, conversion_goals=None,
                  allow_self_approval=None, forbid_overdraft=None, default_goal=None, base=None):
        s = base or _n.OrgSettings()
        if base is None:
            _n.lib.eng_org_settings_init(ctypes.byref(s), 1)
        if xengage is not None:
            s.xengage = XENGAGE_MODES[xengage]
        for ch, cost in (channel_costs or {}).items():
            s.channel_cost[channel_id(ch)] = whole(cost, f"channel_costs[{ch!r}]", CREDITS)
        if xengage_cost is not None:
            s.xengage_cost = whole(xengage_cost, "xengage_cost", CREDITS)
        if conversion_goals is not None:
            s.conversion_goals = int(conversion_goals)
        if allow_self_approval is not None:
            s.allow_self_approval = int(allow_self_approval)
        if forbid_overdraft is not None:
            s.forbid_overdraft = int(forbid_overdraft)
        if default_goal is not None:
            s.has_default_goal = 1
            s.default_goal = _goal(default_goal, keep)
        return s

    def create_org(self, org: str, admin: str, **settings) -> None:
        """Create an org with its first actor ``admin`` (admin role, org scope). Settings:
        ``xengage`` ("off", "trial", "unlocked"), ``channel_costs`` ({"sms": 3, ...}),
        ``xengage_cost``, ``conversion_goals``, ``allow_self_approval``, ``forbid_overdraft``,
        ``default_goal`` (a goal dict, see create_campaign)."""
        keep: list = []
        s = self._settings(keep, **settings)
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_org_create, org.encode(), ctypes.byref(s), admin.encode(), ctypes.byref(v),
                   validation=v)

    def org_settings(self, actor: str) -> dict:
        s = _n.OrgSettings()
        _n.lib.eng_org_settings_init(ctypes.byref(s), 1)
        self._call(_n.lib.eng_org_settings_get, actor.encode(), ctypes.byref(s))
        inv = {v: k for k, v in XENGAGE_MODES.items()}
        return {"xengage": inv.get(s.xengage, s.xengage), "conversion_goals": bool(s.conversion_goals),
                "allow_self_approval": bool(s.allow_self_approval), "forbid_overdraft": bool(s.forbid_overdraft),
                "channel_costs": {channel_name(i): s.channel_cost[i] for i in range(_n.CH_COUNT)},
                "xengage_cost": s.xengage_cost,
                "default_goal": _goal_dict(s.default_goal) if s.has_default_goal else None}

    def set_org_settings(self, actor: str, **changes) -> None:
        """Change some of the org's settings (the others stay as they are)."""
        s = _n.OrgSettings()
        _n.lib.eng_org_settings_init(ctypes.byref(s), 1)
        self._call(_n.lib.eng_org_settings_get, actor.encode(), ctypes.byref(s))
        keep: list = []
        s = self._settings(keep, base=s, **changes)
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_org_settings_set, actor.encode(), ctypes.byref(s), ctypes.byref(v), validation=v)

    def put_actor(self, actor: str, id: str, roles: Sequence[str], scope: str = "org",
                  units: Sequence[str] = ()) -> None:
        """Create or change a user of the acting admin's org: roles among viewer, author, approver, admin."""
        keep: list = []
        a = _n.ActorSpec()
        _n.lib.eng_actor_spec_init(ctypes.byref(a), 1)
        a.id = cstr(id, keep)
        a.roles = sum(ROLES[r] for r in set(roles))
        a.scope = SCOPES[scope]
        a.units, a.n_units = strarray(units, keep), len(units)
        self._call(_n.lib.eng_actor_put, actor.encode(), ctypes.byref(a))

    @staticmethod
    def _actor_dict(a) -> dict:
        return {"id": _d(a.id), "roles": sorted(r for r, bit in ROLES.items() if a.roles & bit),
                "scope": {v: k for k, v in SCOPES.items()}.get(a.scope, a.scope),
                "units": [_d(a.units[i]) for i in range(a.n_units)]}

    def actor(self, actor: str, id: str) -> dict:
        a = _n.new(_n.ActorSpec)
        self._call(_n.lib.eng_actor_get, actor.encode(), id.encode(), ctypes.byref(a))
        return self._actor_dict(a)

    def actors(self, actor: str) -> Iterator[dict]:
        """The org's actors, one dict each (an iterator)."""
        it = ctypes.c_void_p()
        self._call(_n.lib.eng_actor_list, actor.encode(), ctypes.byref(it))
        try:
            while True:
                a = _n.new(_n.ActorSpec)
                rc = _n.lib.eng_actor_next(it, ctypes.byref(a))
                if rc == -25:  # ENG_ITEROVER
                    return
                self._raise_if(rc)
                yield self._actor_dict(a)
        finally:
            _n.lib.eng_actor_iter_free(it)

    def remove_actor(self, actor: str, id: str) -> None:
        self._call(_n.lib.eng_actor_remove, actor.encode(), id.encode())

    def credits(self, actor: str, account: str = "campaign") -> int:
        b = ctypes.c_int64()
        self._call(_n.lib.eng_credits_balance, actor.encode(), CREDIT_ACCOUNTS[account], ctypes.byref(b))
        return b.value

    def adjust_credits(self, actor: str, delta: int, account: str = "campaign") -> None:
        self._call(_n.lib.eng_credits_adjust, actor.encode(), CREDIT_ACCOUNTS[account], whole(delta, "delta", CREDITS))

    # ---- campaigns ---------------------------------------------------------------------------
    def _campaign_spec(self, keep, name, start, end, objective="none", control_percent=10, unit=None,
                       goal=None, ga_account=None, product_categories=(), product_items=(), stores=(), zones=(),
                       control_group=0):
        c = _n.CampaignSpec()
        _n.lib.eng_campaign_spec_init(ctypes.byref(c), _n.VERSIONS["eng_campaign_spec"])
        c.control_group = control_group
        c.name, c.start, c.end, c.unit = cstr(name, keep), start, end, cstr(unit, keep)
        c.objective, c.control_percent, c.ga_account = OBJECTIVES[objective], control_percent, cstr(ga_account, keep)
        for field, items in (("product_categories", product_categories), ("product_items", product_items),
                             ("stores", stores), ("zones", zones)):
            setattr(c, field, strarray(items, keep))
            setattr(c, "n_" + field, len(items))
        if goal == "none":
            c.goal_mode = GOAL_MODES["none"]
        elif goal:
            c.goal_mode = GOAL_MODES["custom"]
            c.goal = _goal(goal, keep)
        return c

    def create_campaign(self, actor: str, name: str, start: int, end: int, **fields) -> int:
        """Create a campaign; returns its id. Times in ms since the epoch. Fields: objective
        (one of OBJECTIVES), control_percent (0..50, default 10), unit, ga_account,
        product_categories, product_items, stores, zones, goal: None (the org's default),
        "none", or a dict {event, condition, window_days, start_on, attribution}, and control_group:
        an uploaded group's id, the host's own control list (its members among a message's targeted
        customers are the control, control_percent is not applied; 0, the default: the split)."""
        keep: list = []
        c = self._campaign_spec(keep, name, start, end, **fields)
        cid, v = ctypes.c_uint64(), ctypes.c_void_p()
        self._call(_n.lib.eng_campaign_create, actor.encode(), ctypes.byref(c), ctypes.byref(cid), ctypes.byref(v),
                   validation=v)
        return cid.value

    def update_campaign(self, actor: str, id: int, name: str, start: int, end: int, **fields) -> None:
        keep: list = []
        c = self._campaign_spec(keep, name, start, end, **fields)
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_campaign_update, actor.encode(), id, ctypes.byref(c), ctypes.byref(v), validation=v)

    def delete_campaign(self, actor: str, id: int) -> None:
        self._call(_n.lib.eng_campaign_delete, actor.encode(), id)

    def campaigns(self, actor: str) -> List[int]:
        """The ids of the org's campaigns."""
        ids, n = ctypes.POINTER(ctypes.c_uint64)(), ctypes.c_size_t()
        self._call(_n.lib.eng_campaign_list, actor.encode(), ctypes.byref(ids), ctypes.byref(n))
        try:
            return [ids[i] for i in range(n.value)]
        finally:
            _n.lib.eng_free(self._handle(), ids)

    def campaign(self, actor: str, id: int) -> dict:
        """A campaign's fields and status as a dict (messages: their ids)."""
        h = ctypes.c_void_p()
        self._call(_n.lib.eng_campaign_get, actor.encode(), id, ctypes.byref(h))
        try:
            f = ctypes.POINTER(_n.CampaignSpec)()
            self._raise_if(_n.lib.eng_campaign_fields(h, ctypes.byref(f)))
            st = _n.new(_n.CampaignStatus)
            self._raise_if(_n.lib.eng_campaign_status_get(h, ctypes.byref(st)))
            c = f.contents
            inv = {v: k for k, v in OBJECTIVES.items()}
            return {"id": st.id, "name": _d(c.name), "start": c.start, "end": c.end, "unit": _d(c.unit) or None,
                    "objective": inv.get(c.objective, c.objective), "control_percent": c.control_percent,
                    "goal": _goal_dict(c.goal) if c.goal_mode == 2 else None, "created_by": _d(st.created_by),
                    "control_group": c.control_group or None,
                    "goal_locked": bool(st.goal_locked), "messages": [st.messages[i] for i in range(st.n_messages)]}
        finally:
            _n.lib.eng_campaign_free(h)

    # ---- messages ----------------------------------------------------------------------------
    def _message_spec(self, keep, title, include=(), exclude=(), creatives=(), strategy="none",
                      channel_priority=(), send_at=None, repeat=None, variants=(), offer_id=None, points=0,
                      points_expiry_days=365, senders=None, tiny_url=False, poc=(), credit_cap=0, credits_per_unit=0.0):
        m = _n.MessageSpec()
        _n.lib.eng_message_spec_init(ctypes.byref(m), _n.VERSIONS["eng_message_spec"])
        m.title, m.strategy = cstr(title, keep), STRATEGIES[strategy]
        m.include, m.n_include = strarray([str(g) for g in include], keep), len(include)
        m.exclude, m.n_exclude = strarray([str(g) for g in exclude], keep), len(exclude)
        cr = (_n.Creative * max(len(creatives), 1))()
        for i, c in enumerate(creatives):
            cr[i].channel = channel_id(c["channel"])
            cr[i].subject, cr[i].body = cstr(c.get("subject"), keep), cstr(c.get("body"), keep)
        m.creatives, m.n_creatives = cr, len(creatives)
        prio = (ctypes.c_int * max(len(channel_priority), 1))(*[channel_id(c) for c in channel_priority])
        m.channel_priority, m.n_channel_priority = prio, len(channel_priority)
        dims = {"product": 0, "region": 1, "time": 2}
        va = (_n.Variant * max(len(variants), 1))()
        for i, v in enumerate(variants):
            va[i].dimension, va[i].rule = dims[v.get("dimension", "product")], cstr(v["rule"], keep)
            va[i].channel, va[i].body = channel_id(v["channel"]), cstr(v["body"], keep)
        m.variants, m.n_variants = va, len(variants)
        if repeat is not None and send_at is None:
            raise ValueError("repeat needs send_at (the first occurrence)")
        if send_at is not None:
            sc = _part(_n.Schedule, _n.lib.eng_schedule_init, keep)
            sc.kind, sc.at = 1, send_at
            if repeat is not None:  # a recurring schedule: every N hours, days or weeks until a time
                unknown = sorted(set(repeat) - {"every", "unit", "until"})
                if unknown or repeat.get("unit", "days") not in REPEAT_UNITS:
                    raise ValueError(f"repeat: {unknown[0] + ' is not a key' if unknown else 'unknown unit'}; "
                                     f"keys every, unit (one of {sorted(REPEAT_UNITS)}), until")
                sc.kind, sc.every, sc.until = 2, repeat.get("every", 0), repeat.get("until", 0)
                sc.unit = REPEAT_UNITS[repeat.get("unit", "days")]
            m.schedule = ctypes.pointer(sc)
        if offer_id is not None or points:
            inc = _part(_n.Incentive, _n.lib.eng_incentive_init, keep)
            if offer_id is not None:  # claim an offer of the catalogue (create_offer): its coupon terms
                inc.kind, inc.offer_id = 1, cstr(offer_id, keep)
            else:
                inc.kind, inc.points, inc.points_expiry_days = 2, points, points_expiry_days
            m.incentive = ctypes.pointer(inc)
        d = _part(_n.Delivery, _n.lib.eng_delivery_init, keep)
        if senders:
            se = (_n.Sender * len(senders))()
            for i, (ch, sid) in enumerate(senders.items()):
                se[i].channel, se[i].id = channel_id(ch), cstr(sid, keep)
            d.senders, d.n_senders = se, len(senders)
            keep.append(se)
        d.tiny_url = 1 if tiny_url else 0
        d.poc, d.n_poc = strarray(list(poc), keep), len(poc)
        m.delivery = ctypes.pointer(d)
        credit_cap = whole(credit_cap, "message.xengage.credit_cap", CREDITS)
        if credit_cap or credits_per_unit:  # X-Engage: a cap on one execution's sends; what a unit of currency is worth
            xo = _part(_n.XengageOptions, _n.lib.eng_xengage_options_init, keep)
            xo.credit_cap, xo.credits_per_unit = credit_cap, credits_per_unit
            m.xengage = ctypes.pointer(xo)
        keep += [cr, prio, va]
        return m

    def create_message(self, actor: str, campaign: int, title: str, **fields) -> int:
        """Create a message in a campaign; returns its id. Fields: include / exclude (group names or
        ids), creatives ([{"channel": "sms", "body": ..., "subject": ...}]), strategy (one of
        STRATEGIES), channel_priority (channel names), send_at (ms; a one-off schedule, or the first
        occurrence with repeat: {"every": n, "unit": "hours" | "days" | "weeks" (default days), "until": ms},
        a recurring one, whose every occurrence is sent, charged and reported as a sending of its own),
        variants ([{"dimension", "rule", "channel", "body"}]), offer_id (claims an offer of the
        catalogue, create_offer: its common code or pool gives ``{{coupon_code}}``), points and
        points_expiry_days (default 365: a points incentive, awarded through set_points), senders
        ({"sms": "SHOP"}), tiny_url (shorten ``{{tiny_url | "https://..."}}`` through set_tiny_url), poc
        (org POC addresses, emails or phone numbers: each execution also sends each of them one copy
        per fitting channel, rendered as the sample, envelope customer ENG_POC_CUSTOMER; never counted
        as contacted), credit_cap (X-Engage: the most credits one execution's sends may cost, each at
        its channel's cost; 0, the default: none), credits_per_unit (X-Engage: credits a unit of the
        org's currency is worth, for the value of a conversion against the channels' costs; 0, the
        default: one)."""
        keep: list = []
        m = self._message_spec(keep, title, **fields)
        mid, v = ctypes.c_uint64(), ctypes.c_void_p()
        self._call(_n.lib.eng_message_create, actor.encode(), campaign, ctypes.byref(m), ctypes.byref(mid),
                   ctypes.byref(v), validation=v)
        return mid.value

    def update_message(self, actor: str, id: int, title: str, **fields) -> None:
        keep: list = []
        m = self._message_spec(keep, title, **fields)
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_message_update, actor.encode(), id, ctypes.byref(m), ctypes.byref(v), validation=v)

    def delete_message(self, actor: str, id: int) -> None:
        self._call(_n.lib.eng_message_delete, actor.encode(), id)

    def validate_message(self, actor: str, id: int) -> None:
        """Raise ValidationError listing every problem that would stop the message's approval."""
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_message_validate, actor.encode(), id, ctypes.byref(v), validation=v)

    def message(self, actor: str, id: int) -> dict:
        """A message's fields and status (state, who decided, content hash...) as a dict."""
        h = ctypes.c_void_p()
        self._call(_n.lib.eng_message_get, actor.encode(), id, ctypes.byref(h))
        try:
            f = ctypes.POINTER(_n.MessageSpec)()
            self._raise_if(_n.lib.eng_message_fields(h, ctypes.byref(f)))
            st = _n.new(_n.MessageStatus)
            self._raise_if(_n.lib.eng_message_status_get(h, ctypes.byref(st)))
            m = f.contents
            inv = {v: k for k, v in STRATEGIES.items()}
            return {"id": st.id, "campaign": st.campaign, "title": _d(m.title), "state": STATES[st.state],
                    "strategy": inv.get(m.strategy, m.strategy),
                    "include": [_d(m.include[i]) for i in range(m.n_include)],
                    "exclude": [_d(m.exclude[i]) for i in range(m.n_exclude)],
                    "creatives": [{"channel": channel_name(m.creatives[i].channel),
                                   "subject": _d(m.creatives[i].subject) or None, "body": _d(m.creatives[i].body)}
                                  for i in range(m.n_creatives)],
                    "send_at": m.schedule.contents.at if m.schedule.contents.kind in (1, 2) else None,
                    "repeat": {"every": m.schedule.contents.every, "until": m.schedule.contents.until,
                               "unit": {v: k for k, v in REPEAT_UNITS.items()}.get(m.schedule.contents.unit)}
                    if m.schedule.contents.kind == 2 else None,
                    "credit_cap": m.xengage.contents.credit_cap if m.xengage else 0,
                    "credits_per_unit": m.xengage.contents.credits_per_unit if m.xengage else 0.0,
                    "created_by": _d(st.created_by), "edited_by": _d(st.edited_by), "updated_at": st.updated_at,
                    "decided_by": _d(st.decided_by) or None, "decided_at": st.decided_at or None,
                    "comment": _d(st.comment) or None, "approved_hash": _d(st.approved_hash) or None,
                    "content_hash": _d(st.content_hash)}
        finally:
            _n.lib.eng_message_free(h)

    # ---- approval ----------------------------------------------------------------------------
    def submit(self, actor: str, message: int) -> None:
        """Send a message for approval; ValidationError lists every problem at once (``items``)."""
        v = ctypes.c_void_p()
        self._call(_n.lib.eng_message_submit, actor.encode(), message, ctypes.byref(v), validation=v)

    def approve(self, actor: str, message: int, content_hash: Optional[str] = None, comment: str = "") -> None:
        """Approve a message. With ``content_hash`` (from message()["content_hash"]) the approval
        is bound to the content the approver reviewed; it freezes the audience."""
        self._call(_n.lib.eng_message_approve, actor.encode(), message,
                   content_hash.encode() if content_hash else None, comment.encode())

    def reject(self, actor: str, message: int, comment: str) -> None:
        self._call(_n.lib.eng_message_reject, actor.encode(), message, comment.encode())

    def approve_campaign(self, actor: str, campaign: int, comment: Optional[str] = None) -> None:
        """Approve every message of the campaign awaiting approval, all or none (each checked as
        by approve(), the current content approved); WrongState when none awaits approval."""
        self._call(_n.lib.eng_campaign_approve, actor.encode(), campaign, comment.encode() if comment else None)

    def reject_campaign(self, actor: str, campaign: int, comment: Optional[str] = None) -> None:
        """Reject every message of the campaign awaiting approval, in one change."""
        self._call(_n.lib.eng_campaign_reject, actor.encode(), campaign, comment.encode() if comment else None)

    def message_action(self, actor: str, message: int, action: str) -> None:
        """Start, stop or finish a message's execution by hand (see ACTIONS)."""
        self._call(_n.lib.eng_message_execute, actor.encode(), message, ACTIONS[action])

    def on_model_event(self, fn) -> None:
        """fn(event dict) is called on approval needed / approved / rejected (None: stop)."""
        from .callbacks import make_model_event
        if fn is None:
            self._call(_n.lib.eng_model_set_event_callback, _n.MODEL_EVENT_FN(), None)
            return
        cb, keep = make_model_event(fn, self._sink)
        self._keep += keep
        self._call(_n.lib.eng_model_set_event_callback, cb, None)

    # ---- audit -------------------------------------------------------------------------------
    def audit(self, actor: str) -> Iterator[Dict[str, object]]:
        """The org's audit chain, oldest first, one dict per entry (an iterator)."""
        it = ctypes.c_void_p()
        self._call(_n.lib.eng_audit_open, actor.encode(), ctypes.byref(it))
        try:
            while True:
                e = _n.new(_n.AuditEntry)
                rc = _n.lib.eng_audit_next(it, ctypes.byref(e))
                if rc == -25:
                    return
                self._raise_if(rc)
                yield {"seq": e.seq, "time": e.time, "org": _d(e.org), "actor": _d(e.actor),
                       "object": _d(e.object), "action": _d(e.action), "state_hash": _d(e.state_hash),
                       "prev_hash": _d(e.prev_hash), "hash": _d(e.hash)}
        finally:
            _n.lib.eng_audit_free(it)

    def verify_audit(self, actor: str) -> None:
        """Check the whole chain; raises (with the first bad entry's seq in ``bad_seq``) when broken."""
        bad = ctypes.c_uint64()
        try:
            self._call(_n.lib.eng_audit_verify, actor.encode(), ctypes.byref(bad))
        except Exception as err:
            err.bad_seq = bad.value
            raise
