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
from pathlib import Path

import pytest

from portal_tui.domain.plans import Plan, PlanConfig
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
from portal_tui.domain.plans import Plan, PlanConfig
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
