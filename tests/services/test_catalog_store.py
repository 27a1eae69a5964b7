"""The catalog file on disk: real files, sections a person can edit, atomic saves with a .bak, refusals with the line
of the problem, and an invalid catalog never written."""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from portal_tui import locations
from portal_tui.domain.catalog import Catalog, CatalogPrice
from portal_tui.domain.pricing import PriceDraft
from portal_tui.services.catalog_store import CatalogStore
from portal_tui.services.errors import ConfigFileError
from tests.domain.test_catalog import every_model

BROKEN_TIER = """\
schema_version = 1

[[products]]
key = "pro"
name = "Pro"

[[prices]]
lookup_key = "flat"
product = "pro"
currency = "usd"
unit_amount = "100"

[[prices]]
lookup_key = "seats"
product = "pro"
currency = "usd"
model = "graduated"

[[prices.tiers]]
up_to = 5
unit_amount = "100"

[[prices.tiers]]
up_to = "inf"
unit_amout = "90"
"""


def test_missing_file_is_an_empty_catalog_and_nothing_is_written(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.toml")
    assert store.load() == Catalog()
    assert not store.exists() and list(tmp_path.iterdir()) == []


def test_save_then_load_every_model_with_sections_and_a_backup(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "sub" / "catalog.toml")
    catalog = every_model()
    store.save(catalog)
    assert store.load() == catalog
    text = store.path.read_text()
    assert "[[prices.tiers]]" in text and "[[meters]]" in text and "[[products]]" in text
    assert text.startswith("schema_version = 1\n")
    assert not store.backup_path.exists()
    catalog.prices[0].draft.unit_amount = Decimal(2500)
    store.save(catalog)
    assert tomllib.loads(store.backup_path.read_text())["prices"][0]["unit_amount"] == "2000"
    assert store.load().prices[0].draft.unit_amount == Decimal(2500)
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_unknown_key_is_refused_with_its_line_and_the_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(BROKEN_TIER)
    with pytest.raises(ConfigFileError) as caught:
        CatalogStore(path).load()
    error = caught.value
    assert error.field == "prices[1].tiers[1].unit_amout"
    assert error.line == 25 and BROKEN_TIER.splitlines()[error.line - 1].startswith("unit_amout")
    assert "did you mean 'unit_amount'" in error.message and "line 25" in error.message
    assert error.title == "The catalog file has a problem"
    assert path.read_text() == BROKEN_TIER


def test_a_rule_broken_in_the_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    text = BROKEN_TIER.replace('unit_amout = "90"', 'unit_amount = "90"').replace(
        'product = "pro"\ncurrency = "usd"\nmodel', 'product = "basic"\ncurrency = "usd"\nmodel'
    )
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        CatalogStore(path).load()
    assert caught.value.field == "prices[1].product"
    assert caught.value.line is not None and text.splitlines()[caught.value.line - 1] == 'product = "basic"'
    assert "No product with the key 'basic'" in caught.value.message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text('schema_version = 1\n[[prices]\nlookup_key = "x"\n')
    with pytest.raises(ConfigFileError) as caught:
        CatalogStore(path).load()
    assert caught.value.line == 2 and "not valid TOML" in caught.value.message


def test_an_invalid_catalog_is_never_saved(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.toml")
    good = every_model()
    store.save(good)
    before = store.path.read_bytes()
    bad = every_model()
    bad.prices.append(CatalogPrice("orphan", "no-such-product", PriceDraft(unit_amount=Decimal(1))))
    with pytest.raises(ConfigFileError) as caught:
        store.save(bad)
    assert caught.value.field == "prices[9].product" and "not saved" in caught.value.message
    assert store.path.read_bytes() == before and not store.backup_path.exists()
    assert store.load() == good


def test_a_stale_temp_file_from_a_killed_save_is_cleaned_up(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "catalog.toml")
    stale = tmp_path / ".catalog.toml.999999999.abc123.tmp"  # a PID no process has
    stale.write_text("half")
    store.save(every_model())
    assert not stale.exists()


def test_the_catalog_file_sits_beside_the_plan_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert locations.catalog_file(tmp_path / "x" / "my-plans.toml") == tmp_path / "x" / "catalog.toml"
    monkeypatch.setenv(locations.CONFIG_ENV, os.fspath(tmp_path / "env" / "plans.toml"))
    assert locations.catalog_file() == tmp_path / "env" / "catalog.toml"
    monkeypatch.delenv(locations.CONFIG_ENV)
    monkeypatch.setenv(locations.CONFIG_DIR_ENV, os.fspath(tmp_path / "dir"))
    assert locations.catalog_file() == tmp_path / "dir" / "catalog.toml"
