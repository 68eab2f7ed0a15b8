"""The rule language: compile an expression against named, typed fields and evaluate it on rows."""
import ctypes
import datetime
from decimal import Decimal
from typing import Dict, List, Optional, Sequence, Tuple

from . import _native as _n
from .errors import check

TYPES = {"bool": 1, "int": 2, "decimal": 3, "string": 4, "date": 5, "timestamp": 6, "string_list": 7}
_EPOCH = datetime.date(1970, 1, 1)


class Rule:
    """A compiled rule (eng_rule_compile). ``fields`` is a list of (name, type) or (name, type,
    scale) with type one of TYPES; errors raise InvalidArgument with line:column in ``detail``.
    ``evaluate(row)`` takes a dict by field name and returns True, False or None (SQL's NULL)."""

    def __init__(self, engine, text: str, fields: Sequence[Tuple], now: int = 0):
        self._engine = engine
        self._fields = [(f[0], f[1], f[2] if len(f) > 2 else (4 if f[1] == "decimal" else 0)) for f in fields]
        arr = (_n.RuleField * max(len(fields), 1))()
        self._names = [n.encode() for n, _, _ in self._fields]
        for i, (name, typ, scale) in enumerate(self._fields):
            arr[i].name, arr[i].type, arr[i].scale = self._names[i], TYPES[typ], scale
        o = _n.RuleOptions()
        check(_n.lib.eng_rule_options_init(ctypes.byref(o), 1))
        o.fields, o.nfields, o.now = arr, len(fields), now
        self._h = ctypes.c_void_p()
        engine._call(_n.lib.eng_rule_compile, text.encode(), ctypes.byref(o), ctypes.byref(self._h))

    def text(self) -> str:
        """The rule printed back in canonical form."""
        need = ctypes.c_size_t()
        _n.lib.eng_rule_text(self._h, None, 0, ctypes.byref(need))
        buf = ctypes.create_string_buffer(need.value + 1)
        check(_n.lib.eng_rule_text(self._h, buf, len(buf), ctypes.byref(need)))
        return buf.value.decode()

    def evaluate(self, row: Dict[str, object]) -> Optional[bool]:
        keep: List[object] = []
        errors: List[BaseException] = []

        def get(i, out, user):
            try:
                name, typ, scale = self._fields[i]
                v, o = row.get(name), out.contents
                o.type, o.scale = TYPES[typ], scale
                if v is None:
                    o.type = 0
                elif typ == "bool":
                    o.v.b = int(bool(v))
                elif typ == "int" or typ == "timestamp":
                    o.v.i = int(v)
                elif typ == "decimal":
                    o.v.i = int((Decimal(str(v)) * (10 ** scale)).to_integral_value())
                elif typ == "date":
                    o.v.date = (v - _EPOCH).days if isinstance(v, datetime.date) else int(v)
                elif typ == "string":
                    b = str(v).encode()
                    keep.append(b)
                    o.v.s.ptr, o.v.s.len = ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p), len(b)
                else:
                    items = [str(x).encode() for x in v]
                    arr = (ctypes.c_char_p * max(len(items), 1))(*items)
                    lens = (ctypes.c_size_t * max(len(items), 1))(*[len(x) for x in items])
                    keep.extend([items, arr, lens])
                    o.v.list.items, o.v.list.lens, o.v.list.count = ctypes.cast(arr, _n.c_char_pp), lens, len(items)
                return 0
            except BaseException as exc:  # noqa: B902 - nothing may cross into C
                errors.append(exc)
                return -24  # ENG_EUSER
        cb = _n.RULE_GET_FN(get)
        res = ctypes.c_int()
        rc = _n.lib.eng_rule_eval_row(self._h, cb, None, ctypes.byref(res))
        if rc < 0 and errors:
            raise errors[0]
        check(rc)
        return {0: False, 1: True}.get(res.value)

    def close(self):
        if self._h:
            h, self._h = self._h, None
            _n.lib.eng_rule_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
