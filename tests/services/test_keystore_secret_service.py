"""The key store against a real Secret Service (gnome-keyring inside dbus-run-session), where CI can start one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal_tui.services.keystore import KeySource, KeyStore, parse_key
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.secret_service


def secret_service_backend() -> object:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.skip("no D-Bus session bus: run under scripts/with-secret-service.sh (as .ci/run does)")
    try:
        from keyring.backends.SecretService import Keyring
    except ImportError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"keyring's Secret Service backend is unavailable: {error}")
    try:
        priority = Keyring.priority
    except Exception as error:
        pytest.skip(f"no usable Secret Service on the session bus: {error}")
    if not priority or priority <= 0:  # pragma: no cover
        pytest.skip("the Secret Service backend reports itself unusable")
    return Keyring()


def test_save_read_remove_in_a_real_secret_service(tmp_path: Path) -> None:
    backend = secret_service_backend()
    service = f"portal-tui-test-{os.getpid()}"
    keys = KeyStore(tmp_path, env={}, service=service, backend=backend)  # type: ignore[arg-type]
    assert keys.keyring_available()
    saved = keys.save(parse_key(TEST_KEY))
    assert saved.source is KeySource.KEYRING
    fresh = KeyStore(tmp_path, env={}, service=service, backend=secret_service_backend())  # type: ignore[arg-type]
    found = fresh.get("test")
    assert found is not None and found.key.reveal() == TEST_KEY
    fresh.remove("test")
    assert KeyStore(tmp_path, env={}, service=service, backend=backend).get("test") is None  # type: ignore[arg-type]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TEST_KEY not in path.read_text()
