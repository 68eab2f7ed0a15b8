"""A minimal PEP 517 build backend for the pure-Python `engage` package: it zips engage/*.py into
a wheel with its metadata. No dependency, so `pip install ./bindings/python` works offline."""
import base64
import hashlib
import os
import zipfile

NAME, VERSION = "engage", "0.1.0"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = f"{NAME}-{VERSION}.dist-info"
METADATA = (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Python bindings (ctypes) for libengage, the embeddable campaign engine\n"
            "Requires-Python: >=3.8\n")
WHEEL = "Wheel-Version: 1.0\nGenerator: engage_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def _files():
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py"):
            with open(os.path.join(pkg, name), "rb") as f:
                yield f"{NAME}/{name}", f.read()


def _wheel(directory, files):
    filename = f"{NAME}-{VERSION}-py3-none-any.whl"
    files = list(files) + [(f"{DIST}/METADATA", METADATA.encode()), (f"{DIST}/WHEEL", WHEEL.encode())]
    record = []
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{DIST}/RECORD,,")
        z.writestr(f"{DIST}/RECORD", "\n".join(record) + "\n")
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, _files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [(f"{NAME}.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    import tarfile
    filename = f"{NAME}-{VERSION}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as t:
        for rel in ["pyproject.toml", "_backend/engage_build.py"] + [p for p, _ in _files()]:
            t.add(os.path.join(HERE, rel), arcname=f"{NAME}-{VERSION}/{rel}")
    return filename
