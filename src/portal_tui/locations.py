"""Every path portal-tui touches is decided here."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_dir

APP_NAME = "portal-tui"
CONFIG_ENV = "PORTAL_TUI_CONFIG"
CONFIG_DIR_ENV = "PORTAL_TUI_CONFIG_DIR"
API_BASE_ENV = "PORTAL_TUI_API_BASE"


def config_dir() -> Path:
    """Folder for the plan config, non-secret state and (only if chosen) the 0600 key file."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(user_config_dir(APP_NAME, appauthor=False))


def plans_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The plan config TOML: `--config PATH`, else $PORTAL_TUI_CONFIG, else the user config dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return config_dir() / "plans.toml"


def catalog_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The catalog TOML (meters, products, prices the plans use, with no account IDs): beside the plan file, so
    `--config PATH` and $PORTAL_TUI_CONFIG move both."""
    return plans_file(explicit).with_name("catalog.toml")


def key_file(folder: Path, mode: str = "test") -> Path:
    """The fallback key file for a mode (0600), used only when no keyring works and the admin chose it."""
    return folder / f"secret-key-{mode}"


def state_file(folder: Path) -> Path:
    """Non-secret state: the active mode (test/live)."""
    return folder / "state.toml"
