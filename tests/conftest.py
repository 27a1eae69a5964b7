"""Shared fixtures: a live sandbox over HTTP, an in-memory keyring, real config files, and the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from portal_tui.services.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from portal_tui.sandbox import Sandbox
    from portal_tui.ui.app import PortalApp

# Obviously fake keys, shaped like Stripe's (the sandbox accepts any plausible test key).
TEST_KEY = "sk_test_" + "PortalTuiSandbox0000000000000000000000000000000001"
LIVE_KEY = "sk_live_" + "PortalTuiSandbox0000000000000000000000000000000001"


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox on a free loopback port, fresh for each test."""
    from portal_tui.sandbox import Sandbox

    with Sandbox() as server:
        yield server


@pytest.fixture
def seeded_sandbox() -> Iterator[Sandbox]:
    """A sandbox holding the demo catalog (all six pricing models, meters, lookup keys)."""
    from portal_tui.sandbox import Sandbox

    with Sandbox(seed=True) as server:
        yield server


@pytest.fixture
def live_sandbox() -> Iterator[Sandbox]:
    """A sandbox playing a live-mode account (accepts sk_live_ keys), to test live-mode safeguards."""
    from portal_tui.sandbox import Sandbox

    with Sandbox(live=True, seed=True) as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    return folder


@pytest.fixture
def make_app(config_dir: Path, memory_keyring: MemoryKeyring) -> Callable[..., PortalApp]:
    """Build the real app against a sandbox, with real config files in a temp dir.

    `make_app(sandbox)` is connected with a test key; `make_app(sandbox, key=None)` starts disconnected;
    `make_app(live_sandbox, key=LIVE_KEY)` is connected in live mode; `keyring_backend=` replaces the in-memory
    keyring (a failing or slow one).
    """

    def factory(
        server: Sandbox,
        *,
        key: str | None = TEST_KEY,
        keyring_backend: KeyringBackend | None = None,
        **app_kwargs: Any,
    ) -> PortalApp:
        from portal_tui.services.config_store import ConfigStore
        from portal_tui.services.keystore import KeyStore, parse_key
        from portal_tui.ui.app import PortalApp
        from portal_tui.ui.context import AppContext

        keystore = KeyStore(config_dir, env={}, backend=keyring_backend or memory_keyring)
        context = AppContext(
            keystore=keystore,
            config_store=ConfigStore(config_dir / "plans.toml"),
            api_base=server.url,
            # Stripe's back-off (0.5 s, 1 s, ...) before each retry of a 5xx would make fault tests sleep.
            gateway_options={"retry_delay": 0.001},
        )
        if key is not None:
            secret = parse_key(key)
            stored = keystore.save(secret)
            context.connect(stored, context.gateway_for(secret).verify())
        return PortalApp(context, **app_kwargs)

    return factory


# ---- conformance: every response body the test session sees, by shape ----------------------------------------

# skeleton JSON -> (request label, skeleton): the structure of each distinct answer any Sandbox gave in this session
# (tests/sandbox/test_conformance.py compares them with the SDK's declarations, after every other test ran).
SEEN_SHAPES: dict[str, tuple[str, Any]] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: runs after every other test (checks what the session saw)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Stable sort, order kept otherwise. The snapshot tour first: under pytest-xdist it is one unit of work for one
    # worker (about a tenth of the suite), so handed out first it never leaves that worker running alone at the end.
    def order(item: pytest.Item) -> tuple[bool, bool]:
        group = item.get_closest_marker("xdist_group")
        return group is None or group.args != ("tour",), item.get_closest_marker("conformance") is not None

    items.sort(key=order)


@pytest.fixture(scope="session", autouse=True)
def pilot_notices_idle_sooner() -> Iterator[None]:
    """Pilot waits for the app to go idle after every key press and pause (`textual._wait.wait_for_idle`): it sleeps
    in steps of 20 ms until a step passes with under 1 ms of CPU used, so each key press slept at least 40 ms and
    60% of the builder tests' wall time was spent asleep. Steps of 2 ms, idle under 0.5 ms, keep the same rule ("no
    work happened during a step") at a tenth of the wait. Tests never rely on the idle guess for network or worker
    results: they wait for those with `settle()` or `wait_until()` (tests/ui/helpers.py)."""
    import textual._wait as idle

    saved = idle.SLEEP_GRANULARITY, idle.SLEEP_IDLE
    idle.SLEEP_GRANULARITY, idle.SLEEP_IDLE = 0.002, 0.0005
    yield
    idle.SLEEP_GRANULARITY, idle.SLEEP_IDLE = saved


@pytest.fixture(scope="session", autouse=True)
def css_parsed_once_per_worker() -> Iterator[None]:
    """Each test builds a new app, and each app parsed every CSS block it met again (0.04 s of CPU for
    the home screen, 0.4 s for the builder's form): parsed rules are kept per worker instead, keyed on
    everything the parse reads (the CSS, where it came from, and the theme's variables). Textual keeps them the
    same way within one app; nothing changes a parsed rule afterwards."""
    from textual.css.stylesheet import Stylesheet

    parse = Stylesheet._parse_rules
    parsed: dict[object, Any] = {}

    def parse_once(self: Stylesheet, css: str, *args: Any, **kwargs: Any) -> Any:
        key = (css, args, tuple(sorted(kwargs.items())), tuple(sorted(self._variables.items())))
        if key not in parsed:
            parsed[key] = parse(self, css, *args, **kwargs)
        return parsed[key]

    Stylesheet._parse_rules = parse_once  # type: ignore[method-assign]
    yield
    Stylesheet._parse_rules = parse  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def collect_sandbox_shapes() -> Iterator[None]:
    """Keep the shape of every successful answer of every Sandbox the session starts."""
    import json

    from portal_tui.sandbox import RecordedRequest, Sandbox
    from tests.sandbox.shapes import skeleton

    def observe(request: RecordedRequest, body: dict[str, Any]) -> None:
        shape = skeleton(body)
        label = f"{request.method} {request.path}"
        key = json.dumps([label.endswith("/create_preview"), shape], sort_keys=True)
        SEEN_SHAPES.setdefault(key, (label, shape))

    Sandbox.observers.append(observe)
    yield
    Sandbox.observers.remove(observe)
