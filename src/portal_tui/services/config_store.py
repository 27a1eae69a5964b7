"""The plan file on disk: read it (reporting the line of any problem), write it atomically, keep a backup."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

from portal_tui.domain.plans import PlanConfig, PlanConfigError
from portal_tui.services.errors import ConfigFileError

_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")


class ConfigStore:
    """Loads and saves the portal's plan config (TOML). Never writes while loading; a broken file stays as it is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def backup_path(self) -> Path:
        return self.path.with_name(self.path.name + ".bak")

    def exists(self) -> bool:
        return self.path.exists()

    def fingerprint(self) -> str | None:
        """The file's content hash (None when missing): a save must not silently replace someone else's edit."""
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return None
        except OSError:
            return "unreadable"

    def load(self) -> PlanConfig:
        """The config on disk; an empty default one when the file does not exist yet."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return PlanConfig()
        except UnicodeDecodeError:
            raise ConfigFileError(
                f"{self.path} is not UTF-8 text", path=self.path, hint="Save the file as UTF-8."
            ) from None
        except OSError as error:
            raise ConfigFileError(
                f"Cannot read {self.path}: {error.strerror}",
                path=self.path,
                hint="Check the file's permissions.",
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            match = _LINE.search(str(error))
            line = int(match.group(1)) if match else None
            reason = _LINE.sub("", str(error)).strip()
            where = f" at line {line}" if line else ""
            raise ConfigFileError(
                f"{self.path.name} is not valid TOML{where}: {reason}",
                path=self.path,
                line=line,
                hint="Fix the file in an editor; portal-tui left it untouched.",
            ) from None
        try:
            config = PlanConfig.from_toml_dict(data)
        except PlanConfigError as error:
            raise self._field_error(text, error.field, f"{error.field} {error.message}") from None
        # A file that parses but breaks a rule (duplicate id, negative quota...) is refused too: loading it would
        # let the editor save over it, and the check command would compare against nonsense.
        problems = config.validate()
        if problems:
            first = problems[0]
            others = len(problems) - 1
            more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
            raise self._field_error(text, first.field, f"{first.field}: {first.message}{more}")
        return config

    def _field_error(self, text: str, field: str, message: str) -> ConfigFileError:
        """A refusal that names the field and, where it can be found in the text, its line."""
        line = locate(text, field)
        where = f" (line {line})" if line else ""
        return ConfigFileError(
            f"{self.path.name}{where}: {message}",
            path=self.path,
            line=line,
            field=field,
            hint="Fix the file in an editor; portal-tui left it untouched.",
        )

    def save(self, config: PlanConfig) -> None:
        """Write atomically: a temp file in the same folder, fsync, keep the previous file as .bak, rename."""
        text = tomli_w.dumps(config.to_toml_dict())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files()
        # The writer's PID in the name tells a later save whether the temp file is still being written.
        prefix = f".{self.path.name}.{os.getpid()}."
        fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
                # A hard link keeps the old content as .bak without a window where the plan file is missing.
                self.backup_path.unlink(missing_ok=True)
                try:
                    os.link(self.path, self.backup_path)
                except OSError:
                    self.backup_path.write_bytes(self.path.read_bytes())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise ConfigFileError(
                f"Could not save {self.path}: {error.strerror}",
                path=self.path,
                hint="Your changes are still in the editor; check the folder's permissions and free space.",
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files left by a save that was killed (SIGKILL, power loss) before its rename."""
        pattern = re.compile(rf"^\.{re.escape(self.path.name)}\.(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp$")
        try:
            candidates = list(self.path.parent.iterdir())
        except OSError:
            return
        for candidate in candidates:
            match = pattern.match(candidate.name)
            if match is None:
                continue
            pid = int(match.group(1)) if match.group(1) else None
            if pid is not None and _alive(pid):
                continue  # another process (or thread of ours) may be saving right now
            if pid is None and _age(candidate) < _LEGACY_TEMP_AGE:
                continue  # an older version's temp file without a PID: only when clearly abandoned
            with contextlib.suppress(OSError):
                candidate.unlink()


# Temp files named without a PID (older versions) are removed once they are this old, in seconds.
_LEGACY_TEMP_AGE = 600.0


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def locate(text: str, field: str) -> int | None:
    """Best-effort line number for a field like "plans[1].quotas.vcpu" in a TOML text."""
    lines = text.splitlines()
    start = 0
    for part in field.split("."):
        indexed = _INDEXED.match(part)
        if indexed:
            name, wanted = indexed.group(1), int(indexed.group(2))
            header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
            seen = -1
            for number in range(start, len(lines)):
                if header.match(lines[number]):
                    seen += 1
                    if seen == wanted:
                        start = number
                        break
            else:
                # An inline array (plans = [{...}, ...]): the line that opens it is the best we can say.
                inline = re.compile(rf"^\s*{re.escape(name)}\s*=")
                return next((n + 1 for n in range(start, len(lines)) if inline.match(lines[n])), None)
            continue
        key = re.compile(rf"^\s*(\[\[?\s*)?([\w.]*\.)?{re.escape(part)}\s*(=|\])")
        for number in range(start, len(lines)):
            if key.match(lines[number]):
                start = number
                break
        else:
            return start + 1 if start else None
    return start + 1
