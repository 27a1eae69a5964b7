#!/usr/bin/env python3
"""One-command set-up for portal-tui, needing nothing but Python 3.11+.

    python3 dev.py app [ARGS...]   create .venv, install portal-tui, launch it (the demo when no key is set)
    python3 dev.py test [ARGS...]  create .venv, install the test tools, run the whole test suite
    python3 dev.py setup           create .venv and install the test tools only (CI runs the checks beside pytest)

All three are idempotent: the virtual environment is reused and only re-installed when
pyproject.toml changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
# The locked wheels, kept between fresh venvs and clones (PORTAL_TUI_WHEELS moves it; deleting it is always safe).
WHEELS = Path(os.environ.get("PORTAL_TUI_WHEELS") or Path.home() / ".cache" / "portal-tui" / "wheels")


def _ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"portal-tui needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    lock = ROOT / "requirements-lock.txt"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (lock.read_bytes() if lock.exists() else b"") + extra.encode()
    ).hexdigest()
    stamp = VENV / f".installed-{extra or 'app'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extra}]" if extra else "."
    print(f"Installing portal-tui{f' with {extra} tools' if extra else ''} ...", flush=True)
    _install(target, lock if lock.exists() else None)
    stamp.write_text(digest)


def _install(target: str, lock: Path | None) -> None:
    """pip install, from the wheel cache when it holds every locked version.

    Resolving against the package index costs most of a fresh install (about 110 s on the CI machine, against 20 s
    to download the locked files and 35 s to install them offline), so the locked wheels are kept in a cache folder
    outside the checkout and a fresh clone or venv installs from there without the index. Anything missing, or an
    offline install that fails, falls back to the index as before.
    """
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    if lock is None:
        subprocess.run([*pip, "install", "-e", target], cwd=ROOT, check=True)
        return
    constraints = ["-c", str(lock)]  # reproducible: the versions the tests passed with
    wheels = WHEELS / f"cp{sys.version_info[0]}{sys.version_info[1]}"
    if _missing_wheels(wheels, lock):
        wanted = ["-r", str(lock), *_build_requires()]  # the build backend too: the offline build needs it
        fetched = subprocess.run([*pip, "download", "--no-deps", "-d", str(wheels), *wanted], cwd=ROOT)
        if fetched.returncode != 0 or _missing_wheels(wheels, lock):
            subprocess.run([*pip, "install", *constraints, "-e", target], cwd=ROOT, check=True)
            return
    offline = subprocess.run(
        [*pip, "install", "--no-index", "--find-links", str(wheels), *constraints, "-e", target], cwd=ROOT
    )
    if offline.returncode != 0:
        print(f"Installing from {wheels} failed: installing from the package index instead ...", flush=True)
        subprocess.run([*pip, "install", *constraints, "-e", target], cwd=ROOT, check=True)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _missing_wheels(wheels: Path, lock: Path) -> list[str]:
    """The locked `name==version` lines (and build requirements) with no file in the wheel cache."""
    have: set[tuple[str, str]] = set()
    for file in wheels.glob("*") if wheels.is_dir() else []:
        if file.suffix == ".whl":  # name-version-tags.whl, the name with "_" for "-"
            name, version = file.name.split("-")[:2]
        else:  # an sdist: name-version.tar.gz
            name, _, version = file.name.removesuffix(".tar.gz").removesuffix(".zip").rpartition("-")
        have.add((_normalized(name), version.lower()))
    pinned = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read_text(), flags=re.MULTILINE)
    missing = [f"{name}=={version}" for name, version in pinned if (_normalized(name), version.lower()) not in have]
    names = {name for name, _version in have}
    return missing + [req for req in _build_requires() if _normalized(re.split(r"[<>=!~ ]", req)[0]) not in names]


def _build_requires() -> list[str]:
    import tomllib  # here, not at the top: on Python 3.10 dev.py must still say it needs 3.11

    with (ROOT / "pyproject.toml").open("rb") as file:
        requires: list[str] = tomllib.load(file)["build-system"]["requires"]
    return requires


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("app", [])
    if command == "app":
        _ensure_venv("")
        return subprocess.call([str(BIN / "portal-tui"), *rest])
    if command == "setup":
        _ensure_venv("test")
        return 0
    if command == "test":
        _ensure_venv("test")
        # Tests run in parallel, one worker per core (pytest-xdist), each with its own sandboxes and folders;
        # `-n 0` (or any -n/--numprocesses given) overrides it.
        chosen = any(arg.startswith(("-n", "--numprocesses")) for arg in rest)
        parallel = [] if chosen else ["-n", "auto", "--dist", "loadgroup"]
        pytest = [str(PYTHON), "-m", "pytest", *parallel, *rest]
        # On Linux, run inside a private D-Bus session with gnome-keyring so the keyring test uses a real
        # Secret Service; the wrapper just runs pytest when those programs are missing (that test then skips).
        wrapper = ROOT / "scripts" / "with-secret-service.sh"
        if sys.platform.startswith("linux") and wrapper.exists():
            pytest = ["sh", str(wrapper), *pytest]
        return subprocess.call(pytest, cwd=ROOT)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
