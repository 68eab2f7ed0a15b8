"""Loading libengage and declaring the C signatures (ctypes, standard library only)."""
import ctypes
import ctypes.util
import os

c_int, c_uint, c_char_p, c_void_p = ctypes.c_int, ctypes.c_uint, ctypes.c_char_p, ctypes.c_void_p


class Error(ctypes.Structure):
    _fields_ = [("code", c_int), ("message", c_char_p), ("detail", c_char_p)]


class Config(ctypes.Structure):
    """struct eng_config, version 1 (include/engage/engine.h)."""
    _fields_ = [("version", c_uint), ("allocator", c_void_p), ("store", c_void_p),
                ("transport", c_void_p), ("transport_user", c_void_p),
                ("clock_fn", c_void_p), ("clock_user", c_void_p),
                ("log_fn", c_void_p), ("log_user", c_void_p), ("log_level", c_int),
                ("progress_fn", c_void_p), ("progress_user", c_void_p)]


class Info(ctypes.Structure):
    """struct eng_info, version 1."""
    _fields_ = [("version", c_uint), ("data_format", c_uint), ("created", ctypes.c_int64),
                ("last_opened", ctypes.c_int64), ("open_count", ctypes.c_uint64),
                ("store_kind", c_char_p)]


class ImportReport(ctypes.Structure):
    """struct eng_import_report, version 1 (include/engage/audience.h)."""
    _fields_ = [("version", c_uint), ("rows", ctypes.c_uint64), ("inserted", ctypes.c_uint64),
                ("updated", ctypes.c_uint64), ("bad_rows", ctypes.c_uint64), ("bytes", ctypes.c_uint64)]


class AudienceQuery(ctypes.Structure):
    """struct eng_audience_query, version 1."""
    _fields_ = [("version", c_uint), ("include", ctypes.POINTER(c_char_p)), ("n_include", ctypes.c_size_t),
                ("exclude", ctypes.POINTER(c_char_p)), ("n_exclude", ctypes.c_size_t),
                ("channels", ctypes.c_uint32), ("control_percent", ctypes.c_uint32),
                ("split_seed", ctypes.c_uint64), ("org", c_char_p), ("campaign", ctypes.c_uint64)]


CONFIG_VERSION = 1
IMPORT_REPORT_VERSION = 1
AUDIENCE_QUERY_VERSION = 1
INFO_VERSION = 1
STORE_CREATE, STORE_READONLY, STORE_NOSYNC = 0x1, 0x2, 0x4


def _find():
    explicit = os.environ.get("LIBENGAGE_PATH")
    if explicit:
        return explicit
    return ctypes.util.find_library("engage") or "libengage.so.1"


lib = ctypes.CDLL(_find())

_SIGNATURES = {
    "eng_version": (c_uint, []),
    "eng_version_string": (c_char_p, []),
    "eng_errstr": (c_char_p, [c_int]),
    "eng_error_last": (ctypes.POINTER(Error), []),
    "eng_config_init": (c_int, [ctypes.POINTER(Config), c_uint]),
    "eng_open": (c_int, [ctypes.POINTER(Config), ctypes.POINTER(c_void_p)]),
    "eng_close": (c_int, [c_void_p]),
    "eng_info_init": (c_int, [ctypes.POINTER(Info), c_uint]),
    "eng_info_get": (c_int, [c_void_p, ctypes.POINTER(Info)]),
    "eng_store_file_open": (c_int, [c_char_p, c_uint, c_void_p, ctypes.POINTER(c_void_p)]),
    "eng_store_file_compact": (c_int, [c_void_p]),
    "eng_store_free": (None, [c_void_p]),
    "eng_channel_name": (c_char_p, [c_int]),
    "eng_org_create": (c_int, [c_void_p, c_char_p, c_void_p, c_char_p, c_void_p]),
    "eng_customers_add_column": (c_int, [c_void_p, c_char_p, c_char_p, c_int]),
    "eng_customers_count": (c_int, [c_void_p, c_char_p, ctypes.POINTER(ctypes.c_uint64)]),
    "eng_import_report_init": (c_int, [ctypes.POINTER(ImportReport), c_uint]),
    "eng_customers_import_csv_buffer": (c_int, [c_void_p, c_char_p, c_char_p, ctypes.c_size_t, c_void_p,
                                                ctypes.POINTER(ImportReport)]),
    "eng_group_create_uploaded": (c_int, [c_void_p, c_char_p, c_char_p, ctypes.POINTER(ctypes.c_uint32)]),
    "eng_group_upload_csv": (c_int, [c_void_p, c_char_p, ctypes.c_uint32, c_char_p, ctypes.c_size_t, c_int, c_void_p,
                                     ctypes.POINTER(ImportReport)]),
    "eng_group_create_filter": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p, ctypes.POINTER(ctypes.c_uint32)]),
    "eng_group_count": (c_int, [c_void_p, c_char_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64)]),
    "eng_audience_query_init": (c_int, [ctypes.POINTER(AudienceQuery), c_uint]),
    "eng_audience_resolve": (c_int, [c_void_p, c_char_p, ctypes.POINTER(AudienceQuery), ctypes.POINTER(c_void_p)]),
    "eng_audience_count": (c_int, [c_void_p, c_int, ctypes.POINTER(ctypes.c_uint64)]),
    "eng_audience_reach": (c_int, [c_void_p, c_int, ctypes.POINTER(ctypes.c_uint64)]),
    "eng_audience_free": (None, [c_void_p]),
}
for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype, _fn.argtypes = _res, _args
