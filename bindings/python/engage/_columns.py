"""Python sequences as the library's typed rule columns (eng_rule_column): what
Rule.evaluate_batch() and the measurement's transaction columns are made of."""
import ctypes
import datetime
from decimal import Decimal
from typing import Dict, List, Sequence, Tuple

from . import _native as _n

_EPOCH = datetime.date(1970, 1, 1)
_C = {"bool": ctypes.c_uint8, "int": ctypes.c_int64, "timestamp": ctypes.c_int64, "decimal": ctypes.c_int64,
      "date": ctypes.c_int32, "string": ctypes.c_uint32}


def _scalar(typ: str, scale: int, v):
    if typ == "bool":
        return int(bool(v))
    if typ == "decimal":
        return int((Decimal(str(v)) * (10 ** scale)).to_integral_value())
    if typ == "date":
        return (v - _EPOCH).days if isinstance(v, datetime.date) else int(v)
    return int(v)


class Columns:
    """One eng_rule_column per schema field (``array``), from ``values`` by field name; a field
    left out is a zeroed column (fine when the rule does not use it). Keeps its arrays alive."""

    def __init__(self, fields: Sequence[Tuple[str, str, int]], values: Dict[str, Sequence], nrows: int):
        from .errors import ENG_EINVAL, InvalidArgument
        from .rules import TYPES
        unknown = set(values) - {f[0] for f in fields}
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidArgument(ENG_EINVAL, f"no field {name!r} in the schema", f"columns[{name!r}]")
        self._keep: List[object] = []
        self.array = (_n.RuleColumn * max(len(fields), 1))()
        for i, (name, typ, scale) in enumerate(fields):
            if name not in values:
                continue
            vals = list(values[name])
            if len(vals) != nrows:
                raise InvalidArgument(ENG_EINVAL, f"column {name!r} has {len(vals)} rows, not {nrows}",
                                      f"columns[{name!r}]")
            c = self.array[i]
            c.type, c.scale = TYPES[typ], scale
            nulls = (ctypes.c_uint64 * max((nrows + 63) // 64, 1))()
            for r, v in enumerate(vals):
                if v is None:
                    nulls[r >> 6] |= 1 << (r & 63)
            c.nulls = nulls
            self._keep.append(nulls)
            if typ in ("string", "string_list"):
                self._strings(c, typ, vals)
                continue
            data = (_C[typ] * max(nrows, 1))(*[0 if v is None else _scalar(typ, scale, v) for v in vals])
            c.data = ctypes.cast(data, ctypes.c_void_p)
            self._keep.append(data)

    def _strings(self, c, typ: str, vals: Sequence) -> None:
        codes: Dict[str, int] = {}

        def code(s) -> int:
            return codes.setdefault(str(s), len(codes))
        if typ == "string":
            data = (ctypes.c_uint32 * max(len(vals), 1))(*[0 if v is None else code(v) for v in vals])
        else:  # offsets (nrows + 1) into the items' codes
            offsets, items = [0], []
            for v in vals:
                items += [code(x) for x in (v or ())]
                offsets.append(len(items))
            data = (ctypes.c_uint32 * len(offsets))(*offsets)
            lc = (ctypes.c_uint32 * max(len(items), 1))(*items)
            c.list_codes = lc
            self._keep.append(lc)
        words = [s.encode() for s in codes]
        d = (ctypes.c_char_p * max(len(words), 1))(*words)
        c.data, c.dict, c.dict_size = ctypes.cast(data, ctypes.c_void_p), ctypes.cast(d, _n.c_char_pp), len(words)
        self._keep += [data, d, words]
