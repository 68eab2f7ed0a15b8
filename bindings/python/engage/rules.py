"""The rule language: compile an expression against named, typed fields and evaluate it on rows."""
import ctypes
import datetime
from decimal import Decimal
from typing import Dict, List, Optional, Sequence, Tuple

from . import _native as _n
from .errors import check

TYPES = {"bool": 1, "int": 2, "decimal": 3, "string": 4, "date": 5, "timestamp": 6, "string_list": 7}
_EPOCH = datetime.date(1970, 1, 1)
OPS = {"==": 0, "!=": 1, "<": 2, "<=": 3, ">": 4, ">=": 5, "in": 6, "between": 7, "contains": 8,
       "starts_with": 9, "ends_with": 10, "is_null": 11}


def options(fields: Sequence[Tuple[str, str, int]], now: int, keep: list):
    """An eng_rule_options over (name, type, scale) fields (arrays kept alive in ``keep``)."""
    from ._admin import rule_fields
    o = _n.RuleOptions()
    check(_n.lib.eng_rule_options_init(ctypes.byref(o), 1))
    o.fields, o.nfields, o.now = rule_fields(fields, keep), len(fields), now
    return o


def value(v, keep: list):
    """A builder operand from a Python value: bool, int, Decimal or float (a decimal), str,
    datetime.date, or a list of str."""
    x = _n.RuleValue()
    if isinstance(v, bool):
        x.type, x.v.b = TYPES["bool"], int(v)
    elif isinstance(v, int):
        x.type, x.v.i = TYPES["int"], v
    elif isinstance(v, (Decimal, float)):
        d = Decimal(str(v))
        scale = max(0, -d.as_tuple().exponent)
        x.type, x.scale, x.v.i = TYPES["decimal"], scale, int(d.scaleb(scale))
    elif isinstance(v, str):
        b = v.encode()
        keep.append(b)
        x.type, x.v.s.ptr, x.v.s.len = TYPES["string"], ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p), len(b)
    elif isinstance(v, datetime.date):
        x.type, x.v.date = TYPES["date"], (v - _EPOCH).days
    elif isinstance(v, (list, tuple)):
        items = [str(i).encode() for i in v]
        arr = (ctypes.c_char_p * max(len(items), 1))(*items)
        keep.extend([items, arr])
        x.type, x.v.list.items, x.v.list.count = TYPES["string_list"], ctypes.cast(arr, _n.c_char_pp), len(items)
    else:
        raise TypeError(f"no rule value for {type(v).__name__}")
    return x


class RuleBuilder:
    """The product UI's structured rules (eng_rule_builder): groups of conditions, AND inside a
    group, OR between groups; an excluded condition is negated. A context manager.

        with RuleBuilder(eng) as b:
            b.add("tier", "in", ["gold", "silver"]).add("spend", ">", Decimal("100"))
            b.group().add("city", "==", "Pune", exclude=True)
            rule = b.compile([("tier", "string"), ("spend", "decimal"), ("city", "string")])
    """

    def __init__(self, engine):
        self._engine = engine
        self._h = ctypes.c_void_p()
        engine._raise_if(_n.lib.eng_rule_builder_new(engine._handle(), ctypes.byref(self._h)))

    def group(self) -> "RuleBuilder":
        """Start a new condition group (OR-ed with the ones before)."""
        self._engine._raise_if(_n.lib.eng_rule_builder_group(self._h))
        return self

    def add(self, field: str, op: str, values=(), exclude: bool = False) -> "RuleBuilder":
        """Add ``field op values`` to the current group: op one of OPS; ``values`` a list for "in"
        and "between" (two), nothing for "is_null", else one value. A bad operator, field name,
        value type or count raises InvalidArgument and leaves the builder as it was."""
        keep: list = []
        if op == "is_null":
            values = []
        elif op not in ("in", "between"):
            values = [values]
        elif not isinstance(values, (list, tuple)):
            raise TypeError(f"{op!r} takes a list of values, not {type(values).__name__}")
        arr = (_n.RuleValue * max(len(values), 1))(*[value(v, keep) for v in values])
        self._engine._raise_if(_n.lib.eng_rule_builder_add(self._h, field.encode(), OPS[op], int(exclude), arr,
                                                           len(values)))
        return self

    def compile(self, fields: Sequence[Tuple], now: int = 0) -> "Rule":
        """The rule the conditions make (an empty builder: ``true``), compiled against ``fields``."""
        eng = self._engine
        return Rule(eng, None, fields, now,
                    _make=lambda o, out: eng._raise_if(_n.lib.eng_rule_builder_compile(self._h, o, out)))

    def close(self):
        if self._h:
            h, self._h = self._h, None
            _n.lib.eng_rule_builder_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Rule:
    """A compiled rule (eng_rule_compile). ``fields`` is a list of (name, type) or (name, type,
    scale) with type one of TYPES; errors raise InvalidArgument with line:column in ``detail``.
    ``evaluate(row)`` takes a dict by field name and returns True, False or None (SQL's NULL)."""

    def __init__(self, engine, text: Optional[str], fields: Sequence[Tuple], now: int = 0, *, _make=None):
        self._engine = engine
        self._eh = engine._handle()  # kept alive by the rule even after Engine.close(): serialize() frees on it
        self._fields = [(f[0], f[1], f[2] if len(f) > 2 else (4 if f[1] == "decimal" else 0)) for f in fields]
        self._h = ctypes.c_void_p()
        keep: list = []
        o = options(self._fields, now, keep)
        if _make is not None:  # a rule made another way (load, deserialize, builder) against the same schema
            _make(ctypes.byref(o), ctypes.byref(self._h))
        else:
            engine._call(_n.lib.eng_rule_compile, text.encode(), ctypes.byref(o), ctypes.byref(self._h))

    @classmethod
    def from_bytes(cls, engine, data: bytes, fields: Sequence[Tuple], now: int = 0) -> "Rule":
        """A rule from serialize()'s bytes, checked against ``fields`` (a used field of another
        type raises InvalidArgument naming it; damaged bytes raise StorageError ENG_ECORRUPT)."""
        data = bytes(data)
        return cls(engine, None, fields, now,
                   _make=lambda o, out: engine._call(_n.lib.eng_rule_deserialize, data, len(data), o, out))

    @classmethod
    def load(cls, engine, name: str, fields: Sequence[Tuple], now: int = 0) -> "Rule":
        """A rule stored with save() (NotFound for an unknown name)."""
        return cls(engine, None, fields, now,
                   _make=lambda o, out: engine._call(_n.lib.eng_rule_load, name.encode(), o, out))

    def serialize(self) -> bytes:
        """The rule as a small versioned, checksummed blob (its canonical text and field types)."""
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._engine._raise_if(_n.lib.eng_rule_serialize(self._h, ctypes.byref(p), ctypes.byref(n)))
        try:
            return ctypes.string_at(p, n.value)
        finally:
            _n.lib.eng_free(self._eh, p)

    def save(self, name: str) -> None:
        """Store the rule in the engine's store under ``name`` (replacing one of that name)."""
        self._engine._raise_if(_n.lib.eng_rule_save(self._h, name.encode()))

    def evaluate_batch(self, columns: Dict[str, Sequence], nrows: Optional[int] = None,
                       where: Optional[Sequence[bool]] = None) -> List[bool]:
        """Evaluate on many rows at once (eng_rule_eval_batch): ``columns`` maps field names to
        equal-length sequences of values (None: null; fields the rule does not use may be left
        out). ``where`` limits it to the rows marked True. Returns one bool per row: selected."""
        from ._columns import Columns
        if nrows is None:
            nrows = len(next(iter(columns.values()))) if columns else 0
        cols = Columns(self._fields, columns, nrows)
        b = _n.RuleBatch(version=1, nrows=nrows, columns=cols.array, ncolumns=len(self._fields))
        words = (nrows + 63) // 64
        sel = (ctypes.c_uint64 * max(words, 1))()
        insel = None
        if where is not None:
            if len(where) != nrows:
                from .errors import ENG_EINVAL, InvalidArgument
                raise InvalidArgument(ENG_EINVAL, f"where has {len(where)} rows, not {nrows}", "where")
            insel = (ctypes.c_uint64 * max(words, 1))()
            for r, w in enumerate(where):
                if w:
                    insel[r >> 6] |= 1 << (r & 63)
        count = ctypes.c_size_t()
        self._engine._raise_if(_n.lib.eng_rule_eval_batch(self._h, ctypes.byref(b), insel, sel, ctypes.byref(count)))
        return [bool(sel[r >> 6] >> (r & 63) & 1) for r in range(nrows)]

    def text(self) -> str:
        """The rule printed back in canonical form."""
        need = ctypes.c_size_t()
        _n.lib.eng_rule_text(self._h, None, 0, ctypes.byref(need))
        buf = ctypes.create_string_buffer(need.value + 1)
        check(_n.lib.eng_rule_text(self._h, buf, len(buf), ctypes.byref(need)))
        return buf.value.decode()

    @property
    def fields(self) -> List[Tuple[str, str, int]]:
        """The schema the rule was compiled against, as (name, type, scale)."""
        return list(self._fields)

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
