"""The plan file on disk: real files, atomic saves, backups, and broken files reported with their line."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portal_tui.domain.plans import Plan, PlanConfig, VerifyRecord
from portal_tui.services.config_store import ConfigStore
from portal_tui.services.errors import ConfigFileError


def test_missing_file_loads_defaults_without_writing(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    config = store.load()
    assert config.plans == [] and len(config.resources) == 5
    assert not store.exists()


def test_save_then_load(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "sub" / "plans.toml")
    config = PlanConfig(plans=[Plan("pro", "Pro", "price_123", None, {"vcpu": 4, "instances": "unlimited"})])
    store.save(config)
    assert store.load() == config
    on_disk = tomllib.loads(store.path.read_text())
    assert on_disk["plans"][0]["quotas"] == {"vcpu": 4, "instances": "unlimited"}
    assert not store.backup_path.exists()
    config.plans[0].quotas["vcpu"] = 8
    store.save(config)
    assert tomllib.loads(store.backup_path.read_text())["plans"][0]["quotas"]["vcpu"] == 4
    assert store.load().plans[0].quotas["vcpu"] == 8
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_save_keeps_file_permissions(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    store.save(PlanConfig())
    os.chmod(store.path, 0o640)
    store.save(PlanConfig(plans=[Plan("a", "A")]))
    assert store.path.stat().st_mode & 0o777 == 0o640


def test_broken_toml_is_reported_with_its_line_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    broken = 'schema_version = 1\n\n[[plans]]\nid = "pro"\nname = "Pro\n'
    path.write_text(broken)
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert caught.value.line == 5
    assert "line 5" in str(caught.value)
    assert path.read_text() == broken


def test_wrong_value_is_reported_with_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    path.write_text(
        textwrap.dedent(
            """\
            schema_version = 1

            [[plans]]
            id = "starter"

            [[plans]]
            id = "pro"

            [plans.quotas]
            vcpu = 4
            memory_gb = "lots"
            """
        )
    )
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert caught.value.field == "plans[1].quotas.memory_gb"
    assert caught.value.line == 11


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        # [[plan]] instead of [[plans]] used to load as zero plans, and the next save wiped the real ones.
        ('schema_version = 1\n\n[[plan]]\nid = "pro"\nname = "Pro"\n', "plan", 3),
        ('schema_version = 1\n[[plans]]\nid = "pro"\nnmae = "Pro"\n', "plans[0].nmae", 4),
        ('schema_version = "1"\n', "schema_version", 1),
        ('[[plans]]\nid = "pro"\nquotas = { vcpu = nan }\n', "plans[0].quotas.vcpu", 3),
        # Parses, but breaks a rule: refused on load, so the editor never saves over it.
        ('[[plans]]\nid = "pro"\n\n[[plans]]\nid = "pro"\n', "plans[1].id", 5),
        ('[[plans]]\nid = "pro"\n[plans.quotas]\nvcpu = -4\n', "plans[0].quotas.vcpu", 4),
        ('[[plans]]\nid = "pro"\nquotas = { gpus = 4 }\n', "plans[0].quotas.gpus", 3),
        # The Verify record (schema 2): unknown keys and wrong values are named like the rest.
        (
            '[[plans]]\nid = "pro"\n\n[plans.verified]\nat = 2026-12-01T10:00:00Z\nreslt = "pass"\n',
            "plans[0].verified.reslt",
            6,
        ),
        ('[[plans]]\nid = "pro"\n[plans.verified]\nat = "yesterday"\nresult = "pass"\n', "plans[0].verified.at", 4),
        (
            '[[plans]]\nid = "pro"\n[plans.verified]\nat = 2026-12-01T10:00:00Z\nresult = "pass"\n'
            'price_id = "price_1"\nterms = "not-a-fingerprint"\n',
            "plans[0].verified.terms",
            7,
        ),
    ],
)
def test_invalid_file_names_field_and_line_and_is_left_untouched(
    tmp_path: Path, text: str, field: str, line: int
) -> None:
    path = tmp_path / "plans.toml"
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert (caught.value.field, caught.value.line) == (field, line)
    assert f"line {line}" in str(caught.value) and field in str(caught.value)
    assert path.read_text() == text


def test_invalid_file_counts_the_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    path.write_text('[[plans]]\nid = "pro"\ntest_price_id = "prod_1"\nlive_price_id = "sk_live_' + "a" * 40 + '"\n')
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert "and 1 more problem" in caught.value.message and "sk_live_aaaa" not in caught.value.message


def test_unwritable_folder_gives_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions, so the failure cannot be provoked")
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    with pytest.raises(ConfigFileError, match="Could not save"):
        ConfigStore(folder / "plans.toml").save(PlanConfig())


WRITER = """
import sys
from pathlib import Path
from portal_tui.domain.plans import Plan, PlanConfig, VerifyRecord
from portal_tui.services.config_store import ConfigStore
store = ConfigStore(Path(sys.argv[1]))
print("ready", flush=True)
n = 0
while True:
    n += 1
    store.save(PlanConfig(plans=[Plan(f"plan-{i}", "x" * 2000, quotas={"vcpu": n}) for i in range(50)]))
"""


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_sigkill_at_random_points_never_leaves_a_torn_file_or_piles_of_temp_files(tmp_path: Path) -> None:
    """Kill a process that saves in a loop at random moments; the file must always hold one whole config."""
    path = tmp_path / "plans.toml"
    ConfigStore(path).save(PlanConfig(plans=[Plan("seed", "Seed")]))
    rng = random.Random(2)
    started = time.monotonic()
    new_versions = 0
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside a save: writing, fsync, linking .bak or renaming
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        for version in (path, ConfigStore(path).backup_path):
            if not version.exists():
                continue
            config = ConfigStore(version).load()
            assert len(config.plans) in (1, 50)
            if len(config.plans) == 50:
                assert len({p.quotas["vcpu"] for p in config.plans}) == 1
        new_versions += len(ConfigStore(path).load().plans) == 50
        # Earlier writers' leftovers are removed by the next save; at most the killed writer's own remains.
        assert len(temp_files(tmp_path)) <= 1, temp_files(tmp_path)
    assert new_versions > 0
    ConfigStore(path).save(PlanConfig())
    assert temp_files(tmp_path) == []
    assert time.monotonic() - started < 10


def test_save_removes_temp_files_of_dead_writers_only(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f".plans.toml.{dead.pid}.abc123.tmp").write_text("half")
        (tmp_path / f".plans.toml.{alive.pid}.def456.tmp").write_text("being written")
        legacy_old = tmp_path / ".plans.toml.k3j4h5.tmp"  # named by an older version, without a PID
        legacy_old.write_text("old")
        os.utime(legacy_old, (time.time() - 3600, time.time() - 3600))
        (tmp_path / ".plans.toml.fresh1.tmp").write_text("maybe in flight")
        (tmp_path / ".other.toml.123.x.tmp").write_text("not ours")
        ConfigStore(path).save(PlanConfig())
        assert temp_files(tmp_path) == sorted(
            [f".plans.toml.{alive.pid}.def456.tmp", ".plans.toml.fresh1.tmp", ".other.toml.123.x.tmp"]
        )
    finally:
        alive.kill()
        alive.wait()


# ---- schema 2: Verify records ------------------------------------------------------------------------------------

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
RECORD = VerifyRecord(AT, True, "price_123", "0123456789abcdef", "PASS: Visa 4242 · succeeds, quantity 1")


def test_a_record_round_trips_through_a_real_file(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    config = PlanConfig(plans=[Plan("pro", "Pro", "price_123", quotas={"vcpu": 4}, verified=RECORD), Plan("b", "B")])
    store.save(config)
    text = store.path.read_text()
    assert "[plans.verified]" in text and 'result = "pass"' in text and "schema_version = 2" in text
    loaded = store.load()
    assert loaded == config and loaded.plans[0].verified == RECORD and loaded.plans[1].verified is None
    # Saving what was loaded writes the same bytes: nothing drifts (time zone, microseconds, key order).
    store.save(loaded)
    assert store.path.read_text() == text


def test_a_version_1_file_loads_and_is_saved_as_version_2(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    old = 'schema_version = 1\n\n[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "price_123"\n'
    store.path.write_text(old)
    config = store.load()
    assert store.path.read_text() == old  # loading never writes
    store.save(config)
    data = tomllib.loads(store.path.read_text())
    assert data["schema_version"] == 2 and data["plans"][0]["test_price_id"] == "price_123"
    assert store.backup_path.read_text() == old
    assert store.load() == config


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "plans.toml"
    path.write_text("schema_version = 3\n")
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert caught.value.field == "schema_version" and "newer portal-tui" in str(caught.value)
    assert path.read_text() == "schema_version = 3\n"


def test_record_verify_changes_only_that_plans_record(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    store.path.write_text(
        'schema_version = 1\n\n[[resources]]\nkey = "gpu_hours"\nlabel = "GPU"\nunit = "hours"\n\n'
        '[[plans]]\nid = "pro"\nname = "Pro"\ntest_price_id = "price_123"\nlive_price_id = "price_9Live"\n'
        "quotas = { gpu_hours = 10 }\n\n"
        '[[plans]]\nid = "basic"\nname = "Basic"\n'
    )
    before = store.load()
    saved = store.record_verify("pro", RECORD)
    assert saved is not None and saved.name == "Pro" and saved.verified == RECORD
    after = store.load()
    assert after.plans[0].verified == RECORD and after.plans[1].verified is None
    before.plans[0].verified = RECORD
    assert after == before  # resources, quotas, live price and the other plan as they were
    assert tomllib.loads(store.backup_path.read_text())["schema_version"] == 1
    newer = VerifyRecord(AT.replace(hour=11), False, "price_123", "fedcba9876543210", "MISMATCH")
    store.record_verify("pro", newer)
    assert store.load().plans[0].verified == newer  # the last run's record replaces the previous one


def test_record_verify_for_a_plan_not_in_the_file_writes_nothing(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    assert store.record_verify("pro", RECORD) is None
    assert not store.exists()  # a missing file is not created for it
    store.path.write_text('[[plans]]\nid = "basic"\n')
    assert store.record_verify("pro", RECORD) is None
    assert store.path.read_text() == '[[plans]]\nid = "basic"\n' and not store.backup_path.exists()


def test_record_verify_leaves_a_broken_file_alone(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "plans.toml")
    broken = '[[plans]]\nid = "pro"\nname = "Pro\n'
    store.path.write_text(broken)
    with pytest.raises(ConfigFileError) as caught:
        store.record_verify("pro", RECORD)
    assert caught.value.line == 3
    assert store.path.read_text() == broken and not store.backup_path.exists()
