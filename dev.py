#!/usr/bin/env python3
"""One-command set-up for portal-tui, needing nothing but Python 3.11+.

    python3 dev.py app [ARGS...]   create .venv, install portal-tui, launch it (the demo when no key is set)
    python3 dev.py test [ARGS...]  create .venv, install the test tools, run the whole test suite

Both commands are idempotent: the virtual environment is reused and only re-installed when
pyproject.toml changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


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
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    constraints = ["-c", str(lock)] if lock.exists() else []  # reproducible: the versions the tests passed with
    subprocess.run([*pip, *constraints, "-e", target], cwd=ROOT, check=True)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("app", [])
    if command == "app":
        _ensure_venv("")
        return subprocess.call([str(BIN / "portal-tui"), *rest])
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
