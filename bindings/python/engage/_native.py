"""Loading libengage and declaring its C structs and signatures (ctypes, standard library only).

Every Structure that mirrors a C struct names it in ``_c_name_``; the test suite
compiles a C program from these classes and compares sizes and field offsets
with the real headers (tests/python/test_layout.py).
"""
import ctypes
import ctypes.util
import operator
import os
from ctypes import POINTER, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint, c_uint32, c_uint64, c_void_p

P = POINTER
c_char_pp = P(c_char_p)
CH_COUNT = 15          # ENG_CH_COUNT
MAX_CHANNELS = 16      # ENG_MAX_CHANNELS
SEND_KEY_MAX = 127     # ENG_SEND_KEY_MAX


_INT_CODES = "bBhHiIlLqQ"  # ctypes' integer types (c_bool, c_char and pointers are not)


def _int_range(t):
    bits = 8 * ctypes.sizeof(t)
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if t(-1).value == -1 else (0, (1 << bits) - 1)


class _Checked(ctypes.Structure):
    """A C struct whose integer fields take only what fits them: ctypes masks an int to the field's width
    (2**32 + 5 in a uint32 becomes 5, -1 in a count becomes 4294967295) and refuses a float with a bare
    TypeError; here either is InvalidArgument naming the struct and field. Any __index__ integer passes."""
    _ints_: dict = {}

    def __setattr__(self, name, value):
        r = type(self)._ints_.get(name)
        if r is not None:
            try:
                v = operator.index(value)
            except TypeError:
                v = None
            if v is None or not r[0] <= v <= r[1]:
                from .errors import ENG_EINVAL, InvalidArgument
                field = f"{type(self)._c_name_}.{name}"
                raise InvalidArgument(ENG_EINVAL, f"{field} must be an int in {r[0]}..{r[1]}, not {value!r}", field)
            value = v
        ctypes.Structure.__setattr__(self, name, value)


def _struct(c_name, fields):
    ints = {f[0]: _int_range(f[1]) for f in fields if isinstance(getattr(f[1], "_type_", None), str)
            and f[1]._type_ in _INT_CODES and len(f) == 2}
    return type(c_name, (_Checked,), {"_fields_": fields, "_c_name_": c_name, "_ints_": ints})


Error = _struct("eng_error", [("code", c_int), ("message", c_char_p), ("detail", c_char_p)])

# ---- callbacks (user pointer last everywhere) -------------------------------------
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_char_p, c_uint64, c_uint64, c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)
CLOCK_FN = ctypes.CFUNCTYPE(c_int64, c_void_p)
READ_FN = ctypes.CFUNCTYPE(ctypes.c_long, c_void_p, c_size_t, c_void_p)

Envelope = _struct("eng_envelope", [
    ("version", c_uint), ("idempotency_key", c_char_p), ("channel", c_int), ("recipient", c_char_p),
    ("sender", c_char_p), ("subject", c_char_p), ("body", c_void_p), ("body_len", c_size_t),
    ("campaign", c_uint64), ("message", c_uint64), ("occurrence", c_uint32), ("customer", c_uint32),
    ("attempt", c_uint32), ("segments", c_uint32)])
SEND_FN = ctypes.CFUNCTYPE(c_int, P(Envelope), P(c_int), c_void_p)
SEND_BATCH_FN = ctypes.CFUNCTYPE(c_int, P(Envelope), c_size_t, P(c_int), c_void_p)
DESTROY_FN = ctypes.CFUNCTYPE(None, c_void_p)
TransportMethods = _struct("eng_transport_methods", [
    ("version", c_uint), ("send", SEND_FN), ("destroy", DESTROY_FN), ("send_batch", SEND_BATCH_FN),
    ("max_in_flight", c_uint), ("batch_size", c_uint)])

Buf = c_void_p  # eng_buf is opaque: filled with eng_buf_set()
SCAN_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p)
StoreMethods = _struct("eng_store_methods", [
    ("version", c_uint),
    ("get", ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p, c_void_p)),
    ("put", ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p)),
    ("delete", ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)),
    ("scan", ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, SCAN_CB, c_void_p, c_void_p)),
    ("begin", ctypes.CFUNCTYPE(c_int, c_void_p)),
    ("commit", ctypes.CFUNCTYPE(c_int, c_void_p)),
    ("rollback", ctypes.CFUNCTYPE(c_int, c_void_p)),
    ("destroy", DESTROY_FN),
    ("erased", ctypes.CFUNCTYPE(c_int, P(c_void_p), P(c_size_t), c_size_t, c_void_p))])
StoreMethods._c_fields_ = {"delete": "del"}  # C names that are Python keywords

Config = _struct("eng_config", [
    ("version", c_uint), ("allocator", c_void_p), ("store", c_void_p), ("transport", P(TransportMethods)),
    ("transport_user", c_void_p), ("clock_fn", CLOCK_FN), ("clock_user", c_void_p), ("log_fn", LOG_FN),
    ("log_user", c_void_p), ("log_level", c_int), ("progress_fn", PROGRESS_FN), ("progress_user", c_void_p),
    ("threads", c_uint), ("events_segments", c_uint)])
Info = _struct("eng_info", [
    ("version", c_uint), ("data_format", c_uint), ("created", c_int64), ("last_opened", c_int64),
    ("open_count", c_uint64), ("store_kind", c_char_p), ("store_file_bytes", c_uint64),
    ("store_live_bytes", c_uint64), ("store_dead_bytes", c_uint64), ("store_compactions", c_uint64),
    ("events_segments", c_uint64), ("events_segments_resident", c_uint64), ("events_segment_reads", c_uint64)])

# ---- model --------------------------------------------------------------------------
GoalSpec = _struct("eng_goal_spec", [
    ("version", c_uint), ("event", c_char_p), ("condition", c_char_p), ("window_days", c_uint32), ("start_on", c_int),
    ("attribution", c_int)])
OrgSettings = _struct("eng_org_settings", [
    ("version", c_uint), ("conversion_goals", c_int), ("xengage", c_int), ("allow_self_approval", c_int),
    ("forbid_overdraft", c_int), ("channel_cost", c_int64 * MAX_CHANNELS), ("xengage_cost", c_int64),
    ("has_default_goal", c_int), ("default_goal", P(GoalSpec))])
ActorSpec = _struct("eng_actor_spec", [
    ("version", c_uint), ("id", c_char_p), ("roles", c_uint), ("scope", c_int), ("units", c_char_pp),
    ("n_units", c_size_t)])
CampaignSpec = _struct("eng_campaign_spec", [
    ("version", c_uint), ("name", c_char_p), ("start", c_int64), ("end", c_int64), ("unit", c_char_p),
    ("type", c_int), ("objective", c_int), ("product_categories", c_char_pp), ("n_product_categories", c_size_t),
    ("product_items", c_char_pp), ("n_product_items", c_size_t), ("stores", c_char_pp), ("n_stores", c_size_t),
    ("zones", c_char_pp), ("n_zones", c_size_t), ("control_percent", c_uint32), ("ga_account", c_char_p),
    ("goal_mode", c_int), ("goal", P(GoalSpec)), ("control_group", c_uint32)])
CampaignStatus = _struct("eng_campaign_status", [
    ("version", c_uint), ("id", c_uint64), ("created_by", c_char_p), ("goal_locked", c_int),
    ("messages", P(c_uint64)), ("n_messages", c_size_t)])
Variant = _struct("eng_variant", [("dimension", c_int), ("rule", c_char_p), ("channel", c_int), ("body", c_char_p)])
Creative = _struct("eng_creative", [("channel", c_int), ("subject", c_char_p), ("body", c_char_p)])
Incentive = _struct("eng_incentive", [
    ("version", c_uint), ("kind", c_int), ("offer_id", c_char_p), ("coupon_source", c_int), ("coupon_code", c_char_p),
    ("coupon_pool", c_char_p), ("points", c_int64), ("points_expiry_days", c_uint32)])
Schedule = _struct("eng_schedule", [
    ("version", c_uint), ("kind", c_int), ("at", c_int64), ("every", c_uint32), ("unit", c_int), ("until", c_int64)])
Sender = _struct("eng_sender", [("channel", c_int), ("id", c_char_p)])
Delivery = _struct("eng_delivery", [
    ("version", c_uint), ("senders", P(Sender)), ("n_senders", c_size_t), ("poc", c_char_pp), ("n_poc", c_size_t), ("tiny_url", c_int)])
XengageOptions = _struct("eng_xengage_options", [("version", c_uint), ("credit_cap", c_int64),
                                                  ("credits_per_unit", ctypes.c_double)])
MessageSpec = _struct("eng_message_spec", [
    ("version", c_uint), ("title", c_char_p), ("type", c_int), ("strategy", c_int), ("variants", P(Variant)),
    ("n_variants", c_size_t), ("channel_priority", P(c_int)), ("n_channel_priority", c_size_t),
    ("include", c_char_pp), ("n_include", c_size_t), ("exclude", c_char_pp), ("n_exclude", c_size_t),
    ("creatives", P(Creative)), ("n_creatives", c_size_t), ("incentive", P(Incentive)), ("schedule", P(Schedule)),
    ("delivery", P(Delivery)), ("xengage", P(XengageOptions))])
MessageStatus = _struct("eng_message_status", [
    ("version", c_uint), ("id", c_uint64), ("campaign", c_uint64), ("state", c_int), ("created_by", c_char_p),
    ("edited_by", c_char_p), ("updated_at", c_int64), ("decided_by", c_char_p), ("decided_at", c_int64),
    ("comment", c_char_p), ("approved_hash", c_char_p), ("content_hash", c_char_p)])
ModelEvent = _struct("eng_model_event", [
    ("version", c_uint), ("kind", c_int), ("org", c_char_p), ("campaign", c_uint64), ("message", c_uint64),
    ("actor", c_char_p), ("comment", c_char_p)])
MODEL_EVENT_FN = ctypes.CFUNCTYPE(None, P(ModelEvent), c_void_p)
AuditEntry = _struct("eng_audit_entry", [
    ("version", c_uint), ("seq", c_uint64), ("time", c_int64), ("org", c_char_p), ("actor", c_char_p), ("object", c_char_p),
    ("action", c_char_p), ("state_hash", c_char_p), ("prev_hash", c_char_p), ("hash", c_char_p)])

# ---- audiences ------------------------------------------------------------------------
ImportOptions = _struct("eng_import_options", [
    ("version", c_uint), ("on_error", c_int), ("max_bad_rows", c_uint64), ("max_field_bytes", c_size_t),
    ("error_fn", c_void_p), ("error_user", c_void_p)])
ImportReport = _struct("eng_import_report", [
    ("version", c_uint), ("rows", c_uint64), ("inserted", c_uint64), ("updated", c_uint64),
    ("bad_rows", c_uint64), ("bytes", c_uint64)])
AudienceQuery = _struct("eng_audience_query", [
    ("version", c_uint), ("include", c_char_pp), ("n_include", c_size_t), ("exclude", c_char_pp),
    ("n_exclude", c_size_t), ("channels", c_uint32), ("control_percent", c_uint32), ("split_seed", c_uint64),
    ("org", c_char_p), ("campaign", c_uint64), ("control_group", c_uint32)])

# ---- rules ----------------------------------------------------------------------------
RuleField = _struct("eng_rule_field", [("name", c_char_p), ("type", c_int), ("scale", c_int)])


class _RuleStr(ctypes.Structure):
    _fields_ = [("ptr", c_void_p), ("len", c_size_t)]


class _RuleList(ctypes.Structure):
    _fields_ = [("items", c_char_pp), ("lens", P(c_size_t)), ("count", c_size_t)]


class _RuleUnion(ctypes.Union):
    _fields_ = [("i", c_int64), ("date", c_int32), ("b", c_int), ("s", _RuleStr), ("list", _RuleList)]


RuleValue = _struct("eng_rule_value", [("type", c_int), ("scale", c_int), ("v", _RuleUnion)])
RuleOptions = _struct("eng_rule_options", [
    ("version", c_uint), ("fields", P(RuleField)), ("nfields", c_size_t), ("now", c_int64),
    ("max_depth", c_uint), ("max_nodes", c_uint)])
RULE_GET_FN = ctypes.CFUNCTYPE(c_int, c_uint32, P(RuleValue), c_void_p)

# ---- events ---------------------------------------------------------------------------
EventReport = _struct("eng_event_report", [
    ("version", c_uint), ("rows", c_uint64), ("accepted", c_uint64), ("duplicates", c_uint64),
    ("unmatched", c_uint64), ("unknown_customers", c_uint64), ("consent_changes", c_uint64),
    ("bad_rows", c_uint64), ("bytes", c_uint64)])
Receipts = _struct("eng_receipts", [
    ("version", c_uint), ("count", c_size_t), ("keys", c_char_pp), ("statuses", P(c_int)), ("times", P(c_int64)),
    ("details", c_char_pp), ("unmatched_fn", c_void_p), ("unmatched_user", c_void_p),
    ("key_lengths", P(c_size_t))])
TxnBatch = _struct("eng_txn_batch", [
    ("version", c_uint), ("count", c_size_t), ("ids", c_char_pp), ("customers", c_char_pp), ("times", P(c_int64)),
    ("amounts", P(c_int64)), ("stores", c_char_pp), ("item_counts", P(c_uint32)), ("items", c_char_pp),
    ("nfields", c_size_t), ("field_names", c_char_pp), ("field_values", c_char_pp)])
TouchRow = _struct("eng_touch_row", [
    ("version", c_uint), ("time", c_int64), ("customer", c_uint32), ("channel", c_int), ("status", c_int),
    ("campaign", c_uint64), ("message", c_uint64), ("message_version", c_uint32), ("occurrence", c_uint32),
    ("detail", c_char_p)])
TOUCH_FN = ctypes.CFUNCTYPE(c_int, P(TouchRow), c_void_p)
TxnRow = _struct("eng_txn_row", [
    ("version", c_uint), ("id", c_char_p), ("customer", c_uint32), ("external_id", c_char_p), ("time", c_int64),
    ("amount", c_int64), ("store", c_char_p), ("n_items", c_size_t), ("items", c_char_pp)])
TXN_FN = ctypes.CFUNCTYPE(c_int, P(TxnRow), c_void_p)

# ---- dispatch -------------------------------------------------------------------------
RunOptions = _struct("eng_run_options", [("version", c_uint), ("message", c_uint64), ("max_batches", c_uint64)])
RunReport = _struct("eng_run_report", [
    ("version", c_uint), ("executions", c_uint64), ("finished", c_uint64), ("refused", c_uint64),
    ("batches", c_uint64), ("sent", c_uint64), ("accepted", c_uint64), ("rejected", c_uint64), ("retry", c_uint64),
    ("unknown", c_uint64), ("expired", c_uint64), ("skipped", c_uint64), ("pending", c_uint64),
    ("next_due", c_int64), ("blocked", c_int)])
ExecutionInfo = _struct("eng_execution_info", [
    ("version", c_uint), ("state", c_int), ("due", c_int64), ("audience", c_uint64), ("planned", c_uint64),
    ("sends", c_uint64), ("accepted", c_uint64), ("rejected", c_uint64), ("expired", c_uint64),
    ("skipped", c_uint64), ("unreachable", c_uint64), ("credits", c_int64), ("reason", ctypes.c_char * 256),
    ("points_awards", c_uint64), ("points_awarded", c_uint64), ("points_rejected", c_uint64),
    ("points_expired", c_uint64), ("points", c_int64)])
SendInfo = _struct("eng_send_info", [
    ("version", c_uint), ("state", c_int), ("attempts", c_uint32), ("next_at", c_int64),
    ("key", ctypes.c_char * (SEND_KEY_MAX + 1))])
_D = ctypes.c_double
Trace = _struct("eng_trace", [
    ("version", c_uint), ("reason", c_int), ("rule", c_int), ("detail", c_uint), ("variant", c_int),
    ("channels", c_uint32), ("unreach", c_int * CH_COUNT), ("state", c_int * CH_COUNT),
    ("xe_known", c_int), ("xe_channel", c_int), ("xe_explored", c_int), ("xe_guard", c_int),
    ("xe_propensity", _D), ("xe_value", _D), ("xe_model_time", c_int64), ("xe_reachable", c_uint32),
    ("xe_segment", c_uint), ("xe_engagement", _D * CH_COUNT), ("xe_engagement_used", _D * CH_COUNT),
    ("xe_conversion", _D * CH_COUNT), ("xe_conversion_used", _D * CH_COUNT), ("xe_delivery", _D * CH_COUNT),
    ("xe_cost", _D * CH_COUNT), ("xe_score", _D * CH_COUNT), ("xe_sent", c_uint * CH_COUNT),
    ("xe_engaged", c_uint * CH_COUNT)])
DryReport = _struct("eng_dry_report", [
    ("version", c_uint), ("audience", c_uint64), ("control", c_uint64), ("contacted", c_uint64),
    ("unreachable", c_uint64), ("sends", c_uint64 * CH_COUNT), ("segments", c_uint64), ("credits", c_int64),
    ("coupons", c_uint64), ("skipped", c_uint64 * 17), ("coupons_available", c_uint64)])

# ---- measure --------------------------------------------------------------------------
ReportFigures = _struct("eng_report_figures", [
    ("version", c_uint), ("responder_def", c_int), ("currency_places", c_int), ("contacted", c_uint64),
    ("sent", c_uint64), ("delivered", c_uint64), ("not_delivered", c_uint64), ("opened", c_uint64),
    ("clicked", c_uint64), ("unsubscribed", c_uint64), ("responders", c_uint64), ("conversions", c_uint64),
    ("hit_rate", ctypes.c_double), ("responder_sales", c_int64), ("spend_per_responder_known", c_int),
    ("spend_per_responder", c_int64), ("credits_spent", c_int64), ("control_contacted", c_uint64),
    ("control_responders", c_uint64), ("control_known", c_int), ("control_hit_rate", ctypes.c_double),
    ("lift_known", c_int), ("lift", ctypes.c_double), ("lift_ci_low", ctypes.c_double),
    ("lift_ci_high", ctypes.c_double), ("p_value", ctypes.c_double), ("incremental_known", c_int),
    ("incremental_sales", c_int64)])
CampaignReportOptions = _struct("eng_campaign_report_options", [
    ("version", c_uint), ("half_life", c_int64), ("currency_places", c_int), ("credits_per_unit", ctypes.c_double),
    ("threads", c_uint)])
OpeEstimate = _struct("eng_ope_estimate", [
    ("version", c_uint), ("known", c_int), ("message", c_uint64), ("rows", c_uint64), ("ipw", ctypes.c_double),
    ("ipw_low", ctypes.c_double), ("ipw_high", ctypes.c_double), ("dr", ctypes.c_double),
    ("dr_low", ctypes.c_double), ("dr_high", ctypes.c_double)])

# ---- privacy --------------------------------------------------------------------------
EraseReport = _struct("eng_erase_report", [
    ("version", c_uint), ("requested", c_uint64), ("erased", c_uint64), ("not_found", c_uint64)])

STRUCTS = [Error, Envelope, TransportMethods, StoreMethods, Config, Info, GoalSpec, OrgSettings, ActorSpec,
           CampaignSpec, CampaignStatus, Variant, Creative, Incentive, Schedule, Sender, Delivery, XengageOptions, MessageSpec,
           MessageStatus, ModelEvent, AuditEntry, ImportOptions, ImportReport, AudienceQuery, RuleField, RuleValue,
           RuleOptions, EventReport, Receipts, TxnBatch, TouchRow, TxnRow, RunOptions, RunReport, ExecutionInfo,
           SendInfo, Trace, DryReport, ReportFigures, CampaignReportOptions, OpeEstimate, EraseReport]

# Struct versions (ENG_*_VERSION) this binding was written against.
VERSIONS = {"eng_config": 3, "eng_info": 3, "eng_org_settings": 1, "eng_actor_spec": 1, "eng_campaign_spec": 2,
            "eng_campaign_status": 1, "eng_audit_entry": 1, "eng_message_spec": 2, "eng_message_status": 1, "eng_import_options": 1,
            "eng_import_report": 1, "eng_audience_query": 2, "eng_rule_options": 1, "eng_event_report": 1,
            "eng_receipts": 2, "eng_txn_batch": 1, "eng_touch_row": 1, "eng_txn_row": 1, "eng_run_options": 1,
            "eng_run_report": 1, "eng_execution_info": 2, "eng_send_info": 1, "eng_trace": 2, "eng_dry_report": 2,
            "eng_report_figures": 1, "eng_campaign_report_options": 2, "eng_ope_estimate": 1,
            "eng_erase_report": 1, "eng_transport_methods": 2, "eng_store_methods": 2, "eng_envelope": 2,
            "eng_goal_spec": 1, "eng_incentive": 1, "eng_schedule": 1, "eng_delivery": 1, "eng_xengage_options": 2}


def new(cls):
    """A zeroed struct with its version set (what the C *_INIT macros do for out-structs)."""
    x = cls()
    x.version = VERSIONS[cls._c_name_]
    return x


# ---- finding the library ------------------------------------------------------------------
def _candidates():
    explicit = os.environ.get("ENGAGE_LIBRARY") or os.environ.get("LIBENGAGE_PATH")
    if explicit:
        return [explicit]
    # A source checkout: bindings/python/engage -> the repository's build trees.
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    out = []
    for build in ("build", "build-release", "build-clang"):
        lib = os.path.join(root, build, "src", "libengage.so.1")
        if os.path.exists(lib):
            out.append(lib)
    out.append(ctypes.util.find_library("engage") or "libengage.so.1")
    return out


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("libengage not found (set ENGAGE_LIBRARY to its path, build it in ./build, or install it): "
                      + "; ".join(errors))


lib, path = _load()

u64p, i64p, intp, u32p, szp = P(c_uint64), P(c_int64), P(c_int), P(c_uint32), P(c_size_t)
E, S = c_void_p, c_char_p  # engine handle, C string
_SIGNATURES = {
    # base and engine
    "eng_version": (c_uint, []), "eng_version_string": (S, []), "eng_errstr": (S, [c_int]),
    "eng_error_last": (P(Error), []), "eng_error_clear": (None, []), "eng_error_set": (None, [c_int, c_char_p]),
    "eng_config_init": (c_int, [P(Config), c_uint]), "eng_open": (c_int, [P(Config), P(E)]),
    "eng_close": (c_int, [E]), "eng_now": (c_int64, [E]), "eng_free": (None, [E, c_void_p]),
    "eng_info_get": (c_int, [E, P(Info)]),
    "eng_store_file_open": (c_int, [S, c_uint, c_void_p, P(c_void_p)]),
    "eng_store_memory_new": (c_int, [c_void_p, P(c_void_p)]),
    "eng_store_new": (c_int, [P(StoreMethods), c_void_p, c_void_p, P(c_void_p)]),
    "eng_store_file_compact": (c_int, [c_void_p]), "eng_store_free": (None, [c_void_p]),
    "eng_buf_set": (c_int, [c_void_p, c_void_p, c_size_t]),
    "eng_channel_name": (S, [c_int]),
    # orgs, actors, credits
    "eng_org_settings_init": (c_int, [P(OrgSettings), c_uint]),
    "eng_org_create": (c_int, [E, S, P(OrgSettings), S, c_void_p]),
    "eng_org_settings_get": (c_int, [E, S, P(OrgSettings)]),
    "eng_org_settings_set": (c_int, [E, S, P(OrgSettings), P(c_void_p)]),
    "eng_actor_spec_init": (c_int, [P(ActorSpec), c_uint]),
    "eng_actor_put": (c_int, [E, S, P(ActorSpec)]), "eng_actor_get": (c_int, [E, S, S, P(ActorSpec)]),
    "eng_actor_list": (c_int, [E, S, P(c_void_p)]), "eng_actor_next": (c_int, [c_void_p, P(ActorSpec)]),
    "eng_actor_iter_free": (None, [c_void_p]), "eng_actor_remove": (c_int, [E, S, S]),
    "eng_credits_balance": (c_int, [E, S, c_int, i64p]), "eng_credits_adjust": (c_int, [E, S, c_int, c_int64]),
    # campaigns and messages
    "eng_campaign_spec_init": (c_int, [P(CampaignSpec), c_uint]),
    "eng_goal_spec_init": (c_int, [P(GoalSpec), c_uint]),
    "eng_campaign_create": (c_int, [E, S, P(CampaignSpec), u64p, P(c_void_p)]),
    "eng_campaign_update": (c_int, [E, S, c_uint64, P(CampaignSpec), P(c_void_p)]),
    "eng_campaign_delete": (c_int, [E, S, c_uint64]),
    "eng_campaign_list": (c_int, [E, S, P(u64p), szp]),
    "eng_campaign_get": (c_int, [E, S, c_uint64, P(c_void_p)]),
    "eng_campaign_fields": (c_int, [c_void_p, P(P(CampaignSpec))]),
    "eng_campaign_status_get": (c_int, [c_void_p, P(CampaignStatus)]),
    "eng_campaign_free": (None, [c_void_p]),
    "eng_message_spec_init": (c_int, [P(MessageSpec), c_uint]),
    "eng_incentive_init": (c_int, [P(Incentive), c_uint]),
    "eng_schedule_init": (c_int, [P(Schedule), c_uint]),
    "eng_delivery_init": (c_int, [P(Delivery), c_uint]),
    "eng_xengage_options_init": (c_int, [P(XengageOptions), c_uint]),
    "eng_message_create": (c_int, [E, S, c_uint64, P(MessageSpec), u64p, P(c_void_p)]),
    "eng_message_update": (c_int, [E, S, c_uint64, P(MessageSpec), P(c_void_p)]),
    "eng_message_delete": (c_int, [E, S, c_uint64]),
    "eng_message_validate": (c_int, [E, S, c_uint64, P(c_void_p)]),
    "eng_message_get": (c_int, [E, S, c_uint64, P(c_void_p)]),
    "eng_message_fields": (c_int, [c_void_p, P(P(MessageSpec))]),
    "eng_message_status_get": (c_int, [c_void_p, P(MessageStatus)]),
    "eng_message_free": (None, [c_void_p]),
    "eng_validation_count": (c_size_t, [c_void_p]),
    "eng_validation_item": (c_int, [c_void_p, c_size_t, intp, P(S), P(S)]),
    "eng_validation_free": (None, [c_void_p]),
    # approval and audit
    "eng_message_submit": (c_int, [E, S, c_uint64, P(c_void_p)]),
    "eng_message_approve": (c_int, [E, S, c_uint64, S, S]),
    "eng_message_reject": (c_int, [E, S, c_uint64, S]),
    "eng_message_execute": (c_int, [E, S, c_uint64, c_int]),
    "eng_model_set_event_callback": (c_int, [E, MODEL_EVENT_FN, c_void_p]),
    "eng_message_audience": (c_int, [E, S, c_uint64, P(c_void_p)]),
    "eng_audit_open": (c_int, [E, S, P(c_void_p)]), "eng_audit_next": (c_int, [c_void_p, P(AuditEntry)]),
    "eng_audit_free": (None, [c_void_p]), "eng_audit_verify": (c_int, [E, S, u64p]),
    # audiences
    "eng_import_options_init": (c_int, [P(ImportOptions), c_uint]),
    "eng_customers_add_column": (c_int, [E, S, S, c_int]),
    "eng_customers_count": (c_int, [E, S, u64p]),
    "eng_customers_import_csv_buffer": (c_int, [E, S, S, c_size_t, P(ImportOptions), P(ImportReport)]),
    "eng_customers_import_csv": (c_int, [E, S, READ_FN, c_void_p, P(ImportOptions), P(ImportReport)]),
    "eng_customer_external_id": (c_int, [E, S, c_uint32, ctypes.c_char_p, c_size_t]),
    "eng_group_create_uploaded": (c_int, [E, S, S, u32p]),
    "eng_group_upload_csv": (c_int, [E, S, c_uint32, S, c_size_t, c_int, P(ImportOptions), P(ImportReport)]),
    "eng_group_create_filter": (c_int, [E, S, S, S, u32p]),
    "eng_group_count": (c_int, [E, S, c_uint32, u64p]),
    "eng_audience_resolve": (c_int, [E, S, P(AudienceQuery), P(c_void_p)]),
    "eng_audience_count": (c_int, [c_void_p, c_int, u64p]),
    "eng_audience_reach": (c_int, [c_void_p, c_int, u64p]),
    "eng_audience_ids": (c_int, [c_void_p, c_int, c_uint64, u32p, c_size_t, szp]),
    "eng_audience_hash": (c_int, [c_void_p, c_void_p]),
    "eng_audience_free": (None, [c_void_p]),
    # rules
    "eng_rule_options_init": (c_int, [P(RuleOptions), c_uint]),
    "eng_rule_compile": (c_int, [E, S, P(RuleOptions), P(c_void_p)]),
    "eng_rule_free": (None, [c_void_p]),
    "eng_rule_text": (c_int, [c_void_p, c_void_p, c_size_t, szp]),
    "eng_rule_eval_row": (c_int, [c_void_p, RULE_GET_FN, c_void_p, intp]),
    # events
    "eng_touch_append": (c_int, [E, P(Receipts), P(EventReport)]),
    "eng_touches_of_customer": (c_int, [E, S, c_uint32, TOUCH_FN, c_void_p]),
    "eng_touch_status_counts": (c_int, [E, S, c_uint64, c_uint64, u64p, c_size_t]),
    "eng_txn_field_add": (c_int, [E, S, S, c_int]),
    "eng_txn_append": (c_int, [E, S, P(TxnBatch), P(ImportOptions), P(EventReport)]),
    "eng_txn_import_csv_buffer": (c_int, [E, S, S, c_size_t, P(ImportOptions), P(EventReport)]),
    "eng_txn_scan": (c_int, [E, S, S, c_int64, c_int64, TXN_FN, c_void_p]),
    # dispatch
    "eng_run_due": (c_int, [E, S, c_int64, P(RunOptions), P(RunReport)]),
    "eng_execution_get": (c_int, [E, S, c_uint64, c_uint32, P(ExecutionInfo)]),
    "eng_send_get": (c_int, [E, S, c_uint64, c_uint32, c_uint32, c_int, P(SendInfo)]),
    "eng_trace_get": (c_int, [E, S, c_uint64, c_uint32, c_uint32, P(Trace)]),
    "eng_dry_run": (c_int, [E, S, c_uint64, P(DryReport)]),
    "eng_unsubscribe_setup": (c_int, [E, S, S, c_void_p, c_size_t]),
    # measure
    "eng_campaign_report": (c_int, [E, S, c_uint64, P(CampaignReportOptions), P(c_void_p)]),
    "eng_report_total": (c_int, [c_void_p, P(ReportFigures)]),
    "eng_report_channel": (c_int, [c_void_p, c_int, P(ReportFigures)]),
    "eng_report_message": (c_int, [c_void_p, c_size_t, u32p, P(ReportFigures)]),
    "eng_report_message_count": (c_size_t, [c_void_p]),
    "eng_report_export": (c_int, [c_void_p, c_int, P(c_void_p), szp]),
    "eng_report_ope": (c_int, [c_void_p, c_int, P(OpeEstimate)]),
    "eng_report_free": (None, [c_void_p]),
    # privacy
    "eng_customer_erase": (c_int, [E, S, S]),
    "eng_customers_erase": (c_int, [E, S, c_char_pp, c_size_t, P(EraseReport)]),
    "eng_customer_export_json": (c_int, [E, S, S, P(c_void_p), szp]),
}


# ---- areas newer than some libraries (the binding checks for them at run time) ---------------
COUPON_CODE_MAX = 64
CouponPoolInfo = _struct("eng_coupon_pool_info", [
    ("version", c_uint), ("kind", c_int), ("size", c_uint64), ("assigned", c_uint64),
    ("pattern", ctypes.c_char * (COUPON_CODE_MAX + 1))])
CouponAssignment = _struct("eng_coupon_assignment", [
    ("version", c_uint), ("code", ctypes.c_char * (COUPON_CODE_MAX + 1)), ("index", c_uint64),
    ("message", c_uint64), ("occurrence", c_uint32), ("at", c_int64)])
GlobalControl = _struct("eng_global_control", [
    ("version", c_uint), ("mode", c_int), ("percent", c_uint32), ("group", c_uint32), ("seed", c_uint64)])
ConsentChange = _struct("eng_consent_change", [
    ("version", c_uint), ("channel", c_int), ("kind", c_int), ("given", c_int), ("time", c_int64),
    ("recorded", c_int64), ("source", c_int), ("actor", c_char_p)])
AdManifest = _struct("eng_ad_manifest", [
    ("version", c_uint), ("idempotency_key", c_char_p), ("campaign", c_uint64), ("message", c_uint64),
    ("occurrence", c_uint32), ("channel", c_int), ("part", c_uint32), ("count", c_uint64),
    ("list_sha256", ctypes.c_char * 65)])
AD_EXPORT_FN = ctypes.CFUNCTYPE(c_int, P(AdManifest), c_char_pp, P(c_int), c_void_p)
TinyUrlRequest = _struct("eng_tiny_url_request", [
    ("version", c_uint), ("idempotency_key", c_char_p), ("url", c_char_p), ("campaign", c_uint64),
    ("message", c_uint64), ("occurrence", c_uint32), ("customer", c_uint32), ("channel", c_int)])
TINY_URL_FN = ctypes.CFUNCTYPE(c_int, P(TinyUrlRequest), ctypes.POINTER(ctypes.c_char), ctypes.c_size_t, c_void_p)
PointsAward = _struct("eng_points_award", [
    ("version", c_uint), ("idempotency_key", c_char_p), ("org", c_char_p), ("campaign", c_uint64),
    ("message", c_uint64), ("occurrence", c_uint32), ("customer", c_uint32), ("points", c_int64),
    ("expiry_days", c_uint32), ("attempt", c_uint32), ("expires_at", c_int64)])
POINTS_FN = ctypes.CFUNCTYPE(c_int, P(PointsAward), c_size_t, P(c_int), c_void_p)
DispatchHooks = _struct("eng_dispatch_hooks", [("version", c_uint), ("ad_export", AD_EXPORT_FN),
                                               ("tiny_url", TINY_URL_FN), ("rate_limit", c_uint * CH_COUNT),
                                               ("points", POINTS_FN)])
OfferSpec = _struct("eng_offer_spec", [
    ("version", c_uint), ("id", c_char_p), ("name", c_char_p), ("valid_from", c_int64), ("valid_until", c_int64),
    ("coupon_source", c_int), ("coupon_code", c_char_p), ("coupon_pool", c_char_p)])
Preview = _struct("eng_preview", [
    ("version", c_uint), ("unreach", c_int), ("segments", c_uint32), ("cost", ctypes.c_int64), ("body_len", c_size_t),
    ("subject", ctypes.c_char * 512), ("recipient", ctypes.c_char * 256), ("sender", ctypes.c_char * 65),
    ("rule", c_int), ("variant", c_int), ("variant_channel", c_int), ("variant_dimension", c_int),
    ("variant_rule", ctypes.c_char * 512)])
OPTIONAL_STRUCTS = {Preview: "eng_message_preview", AdManifest: "eng_dispatch_hooks_set", DispatchHooks: "eng_tiny_url_request_init",
                    TinyUrlRequest: "eng_tiny_url_request_init", PointsAward: "eng_points_award_init",
                    CouponPoolInfo: "eng_coupon_pool_upload", CouponAssignment: "eng_coupon_find",
                    GlobalControl: "eng_global_control_set", ConsentChange: "eng_consent_history",
                    OfferSpec: "eng_offer_create"}
VERSIONS.update({"eng_preview": 2, "eng_ad_manifest": 1, "eng_dispatch_hooks": 3, "eng_points_award": 1, "eng_tiny_url_request": 1, "eng_coupon_pool_info": 1, "eng_coupon_assignment": 1, "eng_global_control": 1,
                 "eng_consent_change": 1, "eng_offer_spec": 1})
_SIGNATURES.update({
    "eng_coupon_pool_upload": (c_int, [E, S, S, c_char_pp, c_size_t]),
    "eng_coupon_pool_generate": (c_int, [E, S, S, S, c_void_p, c_size_t]),
    "eng_coupon_pool_get": (c_int, [E, S, S, P(CouponPoolInfo)]),
    "eng_coupon_find": (c_int, [E, S, S, c_uint32, P(CouponAssignment)]),
    "eng_global_control_set": (c_int, [E, S, P(GlobalControl)]),
    "eng_global_control_get": (c_int, [E, S, P(GlobalControl)]),
    "eng_global_control_contains": (c_int, [E, S, c_uint32, intp]),
    "eng_consent_history": (c_int, [E, S, c_uint32, P(c_void_p)]),
    "eng_consent_next": (c_int, [c_void_p, P(ConsentChange)]),
    "eng_consent_iter_free": (None, [c_void_p]),
    "eng_dispatch_hooks_set": (c_int, [E, P(DispatchHooks), c_void_p]),
    "eng_tiny_url_request_init": (c_int, [P(TinyUrlRequest), c_uint]),
    "eng_points_award_init": (c_int, [P(PointsAward), c_uint]),
    "eng_preview_init": (c_int, [P(Preview), c_uint]),
    "eng_message_preview": (c_int, [E, S, c_uint64, c_uint32, c_int, ctypes.c_char_p, c_size_t, P(Preview)]),
    "eng_message_test_send": (c_int, [E, S, c_uint64, c_uint32, c_int, c_char_pp, c_size_t, P(c_int)]),
    "eng_ad_identifier_hash": (c_int, [c_int, S, ctypes.c_char_p, c_size_t]),
    "eng_offer_spec_init": (c_int, [P(OfferSpec), c_uint]),
    "eng_offer_create": (c_int, [E, S, P(OfferSpec)]),
    "eng_offer_update": (c_int, [E, S, P(OfferSpec)]),
    "eng_offer_remove": (c_int, [E, S, S]),
    "eng_offer_get": (c_int, [E, S, S, P(OfferSpec)]),
    "eng_offer_list": (c_int, [E, S, P(c_void_p)]),
    "eng_offer_next": (c_int, [c_void_p, P(OfferSpec)]),
    "eng_offer_iter_free": (None, [c_void_p]),
})

# ---- the rest of the C API (areas every library of this binding's version has) -------------------
FileCompaction = _struct("eng_file_compaction", [
    ("version", c_uint), ("enabled", c_int), ("dead_percent", c_uint), ("min_dead_bytes", c_uint64)])
UnsubscribeInfo = _struct("eng_unsubscribe_info", [
    ("version", c_uint), ("campaign", c_uint64), ("customer", c_uint32), ("channel", c_int)])
RuleColumn = _struct("eng_rule_column", [
    ("type", c_int), ("scale", c_int), ("data", c_void_p), ("nulls", u64p), ("dict", c_char_pp),
    ("dict_len", u32p), ("dict_size", c_uint32), ("list_codes", u32p)])
RuleBatch = _struct("eng_rule_batch", [
    ("version", c_uint), ("nrows", c_size_t), ("columns", P(RuleColumn)), ("ncolumns", c_size_t)])
TouchColumns = _struct("eng_touch_columns", [
    ("version", c_uint), ("n", c_size_t), ("customer", u32p), ("message", u32p), ("channel", P(ctypes.c_uint8)),
    ("status", P(ctypes.c_uint8)), ("time", i64p), ("occurrence", u32p)])
TxnColumns = _struct("eng_txn_columns", [
    ("version", c_uint), ("n", c_size_t), ("customer", u32p), ("time", i64p), ("amount", i64p),
    ("amount_scale", c_int), ("fields", P(RuleField)), ("nfields", c_size_t), ("columns", P(RuleColumn))])
MeasureSpec = _struct("eng_measure_spec", [
    ("version", c_uint), ("n_customers", c_uint32), ("messages", u32p), ("n_messages", c_size_t),
    ("message_sent_at", i64p), ("start", c_int64), ("end", c_int64), ("has_goal", c_int), ("goal", P(GoalSpec)),
    ("half_life", c_int64), ("control", u32p), ("n_control", c_size_t), ("channel_cost", i64p),
    ("currency_places", c_int)])
OrgFigures = _struct("eng_org_figures", [
    ("version", c_uint), ("currency_places", c_int), ("from", c_int64), ("to", c_int64), ("campaigns", c_uint64),
    ("contacted", c_uint64), ("sent", c_uint64), ("delivered", c_uint64), ("delivery_rate", ctypes.c_double),
    ("responders", c_uint64), ("hit_rate", ctypes.c_double), ("responder_sales", c_int64),
    ("incremental_known", c_int), ("incremental_sales", c_int64), ("credits_spent", c_int64),
    ("credits_remaining", c_int64)])
AUDIENCE_COUNT_FN = ctypes.CFUNCTYPE(c_int, P(AudienceQuery), u64p, c_void_p)
STRUCTS += [FileCompaction, UnsubscribeInfo, RuleColumn, RuleBatch, TouchColumns, TxnColumns, MeasureSpec,
            OrgFigures]
VERSIONS.update({"eng_file_compaction": 1, "eng_unsubscribe_info": 1, "eng_rule_batch": 1,
                 "eng_touch_columns": 2, "eng_txn_columns": 1, "eng_measure_spec": 1, "eng_org_figures": 1})
_SIGNATURES.update({
    "eng_access_check": (c_int, [E, S, c_int, S]),
    "eng_unit_add": (c_int, [E, S, S, S]),
    "eng_campaign_approve": (c_int, [E, S, c_uint64, S]),
    "eng_campaign_reject": (c_int, [E, S, c_uint64, S]),
    "eng_campaign_split_seed": (c_uint64, [S, c_uint64]),
    "eng_message_transition": (c_int, [c_int, c_int]),
    "eng_model_set_rule_schema": (c_int, [E, c_int, P(RuleField), c_size_t]),
    "eng_model_set_audience_counter": (c_int, [E, AUDIENCE_COUNT_FN, c_void_p]),
    "eng_validation_find": (c_int, [c_void_p, S]),
    "eng_customers_set_id_kind": (c_int, [E, S, c_int]),
    "eng_customers_memory": (c_int, [E, S, u64p]),
    "eng_customers_upsert": (c_int, [E, S, c_char_pp, c_size_t, c_char_pp, c_size_t, P(ImportOptions),
                                     P(ImportReport)]),
    "eng_customers_compact": (c_int, [E, S]),
    "eng_customer_find": (c_int, [E, S, S, u32p]),
    "eng_customer_get": (c_int, [E, S, c_uint32, S, ctypes.c_char_p, c_size_t, szp]),
    "eng_customer_reachable": (c_int, [E, S, c_uint32, c_int, intp]),
    "eng_group_upload_ids": (c_int, [E, S, c_uint32, c_char_pp, c_size_t, c_int, P(ImportOptions), P(ImportReport)]),
    "eng_group_create_combined": (c_int, [E, S, S, c_int, u32p, c_size_t, u32p, c_size_t, u32p]),
    "eng_group_set_combined": (c_int, [E, S, c_uint32, c_int, u32p, c_size_t, u32p, c_size_t]),
    "eng_group_find": (c_int, [E, S, S, u32p]),
    "eng_group_kind_of": (c_int, [E, S, c_uint32, intp]),
    "eng_group_delete": (c_int, [E, S, c_uint32]),
    "eng_audience_freeze": (c_int, [c_void_p, S, S]),
    "eng_audience_load_frozen": (c_int, [E, S, S, P(c_void_p)]),
    "eng_audience_test_count": (c_int, [E, S, P(AudienceQuery), u64p]),
    "eng_customers_erase_csv": (c_int, [E, S, S, c_size_t, P(EraseReport)]),
    "eng_events_compact": (c_int, [E]),
    "eng_events_data_from": (c_int, [E, S, i64p]),
    "eng_events_set_retention": (c_int, [E, S, c_uint32]),
    "eng_touch_pending": (c_int, [E, u64p]),
    "eng_touch_in_doubt": (c_int, [E, u64p]),
    "eng_txn_import_csv": (c_int, [E, S, READ_FN, c_void_p, P(ImportOptions), P(EventReport)]),
    "eng_unsubscribe_apply": (c_int, [E, S, S, P(UnsubscribeInfo)]),
    "eng_store_file_set_compaction": (c_int, [c_void_p, P(FileCompaction)]),
    "eng_rule_batch_init": (c_int, [P(RuleBatch), c_uint]),
    "eng_rule_eval_batch": (c_int, [c_void_p, P(RuleBatch), u64p, u64p, szp]),
    "eng_rule_serialize": (c_int, [c_void_p, P(c_void_p), szp]),
    "eng_rule_deserialize": (c_int, [E, c_void_p, c_size_t, P(RuleOptions), P(c_void_p)]),
    "eng_rule_save": (c_int, [c_void_p, S]),
    "eng_rule_load": (c_int, [E, S, P(RuleOptions), P(c_void_p)]),
    "eng_rule_builder_new": (c_int, [E, P(c_void_p)]),
    "eng_rule_builder_group": (c_int, [c_void_p]),
    "eng_rule_builder_add": (c_int, [c_void_p, S, c_int, c_int, P(RuleValue), c_size_t]),
    "eng_rule_builder_compile": (c_int, [c_void_p, P(RuleOptions), P(c_void_p)]),
    "eng_rule_builder_free": (None, [c_void_p]),
    "eng_measure_spec_init": (c_int, [P(MeasureSpec), c_uint]),
    "eng_measure_campaign": (c_int, [E, P(TouchColumns), P(TxnColumns), P(MeasureSpec), P(c_void_p)]),
    "eng_measure_org": (c_int, [E, P(TouchColumns), P(TxnColumns), P(MeasureSpec), c_size_t, c_int64, c_int,
                                c_int64, P(OrgFigures)]),
})

MISSING = set()


def has(name: str) -> bool:
    """Whether the loaded library exports ``name`` (an older library lacks newer areas)."""
    return name not in MISSING


for _name, (_res, _args) in _SIGNATURES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        MISSING.add(_name)
        continue
    _fn.restype, _fn.argtypes = _res, _args
