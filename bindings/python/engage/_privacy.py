"""Privacy: erasing a person's data and exporting it (include/engage/privacy.h)."""
import ctypes
import json
from typing import List, Sequence

from . import _native as _n
from ._util import strarray


class PrivacyMixin:
    def erase_customer(self, actor: str, external_id: str) -> None:
        """Erase one customer: personal data goes, counts and audit stay (see docs/privacy.md)."""
        self._call(_n.lib.eng_customer_erase, actor.encode(), external_id.encode())

    def erase_customers(self, actor: str, external_ids: Sequence[str]) -> dict:
        """Erase several customers, all or nothing; returns requested, erased, not_found."""
        keep: List[object] = []
        rep = _n.new(_n.EraseReport)
        self._call(_n.lib.eng_customers_erase, actor.encode(), strarray(external_ids, keep), len(external_ids),
                   ctypes.byref(rep))
        return {"requested": rep.requested, "erased": rep.erased, "not_found": rep.not_found}

    def erase_customers_csv(self, actor: str, csv) -> dict:
        """erase_customers() over CSV text or bytes with an ``id`` column (other columns ignored);
        a malformed CSV raises InvalidArgument with "line:column" and erases nothing."""
        raw = csv.encode() if isinstance(csv, str) else bytes(csv)
        rep = _n.new(_n.EraseReport)
        self._call(_n.lib.eng_customers_erase_csv, actor.encode(), raw, len(raw), ctypes.byref(rep))
        return {"requested": rep.requested, "erased": rep.erased, "not_found": rep.not_found}

    def export_customer(self, actor: str, external_id: str) -> dict:
        """Everything stored about a customer (a subject access request), parsed from the library's JSON."""
        text, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._call(_n.lib.eng_customer_export_json, actor.encode(), external_id.encode(), ctypes.byref(text),
                   ctypes.byref(n))
        try:
            return json.loads(ctypes.string_at(text, n.value).decode())
        finally:
            _n.lib.eng_free(self._handle(), text)
