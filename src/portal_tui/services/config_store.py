"""The plan file on disk: read it (reporting the line of any problem), write it atomically, keep a backup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from portal_tui.services.errors import ConfigFileError

if TYPE_CHECKING:
    from portal_tui.domain.plans import Plan, PlanConfig, VerifyRecord

# The plan model, the TOML reader and writer are imported when a file is first read or written, not with the app:
# the Home screen's first frame does not wait for them (about a twentieth of start-up).

__all__ = ["ConfigStore"]


class ConfigStore:
    """Loads and saves the portal's plan config (TOML). Never writes while loading; a broken file stays as it is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def backup_path(self) -> Path:
        from portal_tui.services.toml_file import backup_path

        return backup_path(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def fingerprint(self) -> str | None:
        """The file's content hash (None when missing): a save must not silently replace someone else's edit."""
        from portal_tui.services.toml_file import file_fingerprint

        return file_fingerprint(self.path)

    def load(self) -> PlanConfig:
        """The config on disk; an empty default one when the file does not exist yet."""
        from portal_tui.domain.plans import PlanConfig, PlanConfigError
        from portal_tui.services.toml_file import problems_error, read_toml

        read = read_toml(self.path)
        if read is None:
            return PlanConfig()
        text, data = read
        try:
            config = PlanConfig.from_toml_dict(data)
        except PlanConfigError as error:
            raise self._field_error(text, error.field, f"{error.field} {error.message}") from None
        # A file that parses but breaks a rule (duplicate id, negative quota...) is refused too: loading it would
        # let the editor save over it, and the check command would compare against nonsense.
        problems = config.validate()
        if problems:
            raise problems_error(self.path, text, problems)
        return config

    def _field_error(self, text: str, field: str, message: str) -> ConfigFileError:
        """A refusal that names the field and, where it can be found in the text, its line."""
        from portal_tui.services.toml_file import field_error

        return field_error(self.path, text, field, message)

    def save(self, config: PlanConfig) -> None:
        """Write atomically: a temp file in the same folder, fsync, keep the previous file as .bak, rename."""
        import tomli_w

        from portal_tui.services.toml_file import atomic_write

        text = tomli_w.dumps(config.to_toml_dict())
        try:
            atomic_write(self.path, text)
        except OSError as error:
            raise ConfigFileError(
                f"Could not save {self.path}: {error.strerror}",
                path=self.path,
                hint="Your changes are still in the editor; check the folder's permissions and free space.",
            ) from None

    def record_verify(self, plan_id: str, record: VerifyRecord) -> Plan | None:
        """Set one plan's Verify record in the file as it is on disk now (everything else kept), and save.

        The plan as saved; None when the file holds no plan `plan_id` (nothing is written then). A file that does
        not load is reported (ConfigFileError) and left untouched.
        """
        config = self.load()
        plan = config.plan(plan_id)
        if plan is None:
            return None
        plan.verified = record
        self.save(config)
        return plan

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files left by a save that was killed (SIGKILL, power loss) before its rename."""
        from portal_tui.services.toml_file import remove_stale_temp_files

        remove_stale_temp_files(self.path)
