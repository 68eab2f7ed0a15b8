"""Python bindings for libengage (ctypes; no dependencies beyond the standard library).

    import engage
    with engage.Engine("engage.db") as eng:
        print(eng.info()["open_count"])

Every area of the C API is here: orgs, actors and credits, campaigns and messages, approval and
the audit chain (engine.py, _model.py); customers, groups and audiences (_audience.py); rules
(rules.py: text, builder, serialised and stored rules, row and column-batch evaluation); units,
access checks, rule schemas and an audience counter (_admin.py); receipts, transactions and event
retention (_events.py); execution (_dispatch.py); campaign reports with X-Engage's off-policy
estimates (reports.py) and attribution over the host's own columns (_measure.py); erasure and export (_privacy.py); coupon
pools (_coupons.py), the global control group and consent history (_audience.py) where the loaded
library has them (a missing area raises ENG_EUNSUPPORTED, see ``_native.has``). Storage,
transport, clock, progress and log callbacks can be written in Python (callbacks.py). Every
failing call raises an EngageError subclass carrying the library's code, message and detail
(field path, key or line:column). Times are milliseconds since the epoch (DAY, HOUR).
"""
from . import _native
from ._audience import COLUMN_TYPES, Audience
from ._coupons import ad_identifier_hash, ad_identifier_hashes
from ._model import next_state, split_seed
from ._util import channel_name, channels
from .callbacks import DictStorage, Envelope, Storage, Transport
from .engine import Engine
from .errors import (AlreadyExists, Cancelled, CreditsError, Denied, EngageError, InvalidArgument, NotFound,
                     StorageError, ValidationError, WrongState)
from .errors import CODES
from .reports import Report
from .rules import Rule, RuleBuilder

globals().update(CODES)  # ENG_EINVAL, ENG_ENOTFOUND, ...

HOUR = 3600 * 1000
DAY = 24 * HOUR
MINUTE = 60 * 1000

__all__ = ["Engine", "EngageError", "InvalidArgument", "NotFound", "AlreadyExists", "Denied", "WrongState",
           "Cancelled", "StorageError", "CreditsError", "ValidationError", "Storage", "DictStorage", "Transport",
           "Envelope", "Audience", "Report", "Rule", "RuleBuilder", "next_state", "split_seed", "COLUMN_TYPES", "channels", "channel_name", "version", "version_info",
           "library_path", "ad_identifier_hash", "ad_identifier_hashes", "DAY", "HOUR", "MINUTE"] + list(CODES)


def version() -> str:
    """The run-time library version, for example '0.1.0'."""
    return _native.lib.eng_version_string().decode()


def version_info() -> tuple:
    """The run-time library version as (major, minor, patch), for comparisons."""
    v = _native.lib.eng_version()
    return (v // 10000, v // 100 % 100, v % 100)


def library_path() -> str:
    """Which libengage this binding loaded."""
    return _native.path
