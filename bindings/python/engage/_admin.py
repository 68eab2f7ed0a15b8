"""Org administration around the model: units, access checks, the schemas rule texts are
validated against, and a host-side audience counter for X-Engage (engage/org.h, access.h, model.h)."""
import ctypes
from typing import Callable, Optional, Sequence, Tuple

from . import _native as _n

OPS = {"read": 0, "edit": 1, "approve": 2, "execute": 3, "admin": 4}
SCHEMA_KINDS = {"customer": 0, "event": 1}


def rule_fields(fields: Sequence[Tuple], keep: list):
    """An eng_rule_field array from (name, type) or (name, type, scale) tuples (see rules.TYPES)."""
    from .rules import TYPES
    arr = (_n.RuleField * max(len(fields), 1))()
    for i, f in enumerate(fields):
        name = f[0].encode()
        keep.append(name)
        typ = TYPES[f[1]] if isinstance(f[1], str) else int(f[1])
        arr[i].name, arr[i].type = name, typ
        arr[i].scale = f[2] if len(f) > 2 else (4 if f[1] == "decimal" else 0)
    keep.append(arr)
    return arr


class AdminMixin:
    def add_unit(self, actor: str, unit: str, parent: Optional[str] = None) -> None:
        """Add an org unit under ``parent`` (None: the org itself); an admin's call."""
        self._call(_n.lib.eng_unit_add, actor.encode(), unit.encode(), parent.encode() if parent else None)

    def may(self, actor: str, op: str, unit: Optional[str] = None) -> bool:
        """Whether ``actor`` may do ``op`` (one of OPS) on an object of ``unit`` (None: the org).
        False for an unknown actor or unit; InvalidArgument for an unknown op number."""
        code = OPS[op] if isinstance(op, str) else int(op)
        rc = _n.lib.eng_access_check(self._handle(), actor.encode(), code, unit.encode() if unit else None)
        if rc == -15:  # ENG_EDENIED
            return False
        self._raise_if(rc)
        return True

    def set_rule_schema(self, kind: str, fields: Optional[Sequence[Tuple]]) -> None:
        """The schema rule texts of ``kind`` ("customer": personalization variants; "event": goal
        conditions) compile against during validation, as (name, type[, scale]) tuples; with one
        set, a bad rule is reported at its field path. None removes it. Not stored."""
        keep: list = []
        if fields is None:
            self._call(_n.lib.eng_model_set_rule_schema, SCHEMA_KINDS[kind], None, 0)
            return
        self._call(_n.lib.eng_model_set_rule_schema, SCHEMA_KINDS[kind], rule_fields(fields, keep), len(fields))

    def set_audience_counter(self, fn: Optional[Callable[[dict], int]]) -> None:
        """Count X-Engage audiences in Python: fn(query) -> test-group size, where query has
        include, exclude (group names), channels (names), control_percent, split_seed, org and
        campaign. Raising fails the count (validation reports it at ``message.audience``).
        None restores the engine's own counter. Not stored: set it after each open."""
        from ._util import channel_name
        if fn is None:
            self._call(_n.lib.eng_model_set_audience_counter, _n.AUDIENCE_COUNT_FN(), None)
            return

        def count(q, out, user):
            try:
                x = q.contents
                n = fn({"include": [x.include[i].decode() for i in range(x.n_include)],
                        "exclude": [x.exclude[i].decode() for i in range(x.n_exclude)],
                        "channels": [channel_name(c) for c in range(_n.CH_COUNT) if x.channels >> c & 1],
                        "control_percent": x.control_percent, "split_seed": x.split_seed,
                        "org": (x.org or b"").decode(), "campaign": x.campaign})
                if not isinstance(n, int) or n < 0:
                    raise ValueError(f"the audience counter returned {n!r}, not a count")
                out[0] = n
                return 0
            except BaseException as exc:  # noqa: B902 - nothing may cross into C
                return self._sink.record(exc, "audience counter")
        cb = _n.AUDIENCE_COUNT_FN(count)
        self._keep += [cb, fn]
        self._call(_n.lib.eng_model_set_audience_counter, cb, None)
