"""A TOML file a person may also edit by hand: read it (naming the line of any problem), write it atomically with
the previous content kept as `.bak`. Shared by the plan file (`ConfigStore`) and the catalog file (`CatalogStore`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from portal_tui.domain.pricing import FieldError
from portal_tui.services.errors import ConfigFileError

_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")
UNTOUCHED = "Fix the file in an editor; portal-tui left it untouched."
# Temp files named without a PID (older versions) are removed once they are this old, in seconds.
_LEGACY_TEMP_AGE = 600.0


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def file_fingerprint(path: Path) -> str | None:
    """The file's content hash (None when missing): a save must not silently replace someone else's edit."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError:
        return "unreadable"


def read_toml(path: Path, *, title: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """The file's text and parsed content; None when it does not exist. Never writes.

    ConfigFileError (with the line where TOML says) for an unreadable, non-UTF-8 or malformed file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _titled(
            ConfigFileError(f"{path} is not UTF-8 text", path=path, hint="Save the file as UTF-8."), title
        ) from None
    except OSError as error:
        raise _titled(
            ConfigFileError(f"Cannot read {path}: {error.strerror}", path=path, hint="Check the file's permissions."),
            title,
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = _LINE.search(str(error))
        line = int(match.group(1)) if match else None
        reason = _LINE.sub("", str(error)).strip()
        where = f" at line {line}" if line else ""
        raise _titled(
            ConfigFileError(f"{path.name} is not valid TOML{where}: {reason}", path=path, line=line, hint=UNTOUCHED),
            title,
        ) from None
    return text, data


def field_error(path: Path, text: str, field: str, message: str, *, title: str | None = None) -> ConfigFileError:
    """A refusal that names the field and, where it can be found in the text, its line."""
    line = locate(text, field)
    where = f" (line {line})" if line else ""
    error = ConfigFileError(f"{path.name}{where}: {message}", path=path, line=line, field=field, hint=UNTOUCHED)
    return _titled(error, title)


def problems_error(
    path: Path, text: str, problems: Sequence[FieldError], *, title: str | None = None
) -> ConfigFileError:
    """The refusal of a file that parses but breaks rules: the first problem with its line, and how many more."""
    first = problems[0]
    others = len(problems) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return field_error(path, text, first.field, f"{first.field}: {first.message}{more}", title=title)


def _titled(error: ConfigFileError, title: str | None) -> ConfigFileError:
    if title is not None:
        error.title = title
    return error


def atomic_write(path: Path, text: str) -> None:
    """Write `text` atomically: a temp file in the same folder, fsync, the previous file kept as `.bak`, rename.

    Raises OSError (the temp file removed) when the folder cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    # The writer's PID in the name tells a later save whether the temp file is still being written.
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
            # A hard link keeps the old content as .bak without a window where the file is missing.
            backup = backup_path(path)
            backup.unlink(missing_ok=True)
            try:
                os.link(path, backup)
            except OSError:
                backup.write_bytes(path.read_bytes())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(path: Path) -> None:
    """Delete temp files left by a save that was killed (SIGKILL, power loss) before its rename."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp$")
    try:
        candidates = list(path.parent.iterdir())
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
    """Best-effort line number for a field like "plans[1].quotas.vcpu" or "prices[2].tiers[0].up_to" in a TOML text
    (nested arrays of tables are found under their dotted header, `[[prices.tiers]]`)."""
    lines = text.splitlines()
    start = 0
    for part in field.split("."):
        indexed = _INDEXED.match(part)
        if indexed:
            name, wanted = indexed.group(1), int(indexed.group(2))
            header = re.compile(rf"^\s*\[\[\s*(?:[\w.]*\.)?{re.escape(name)}\s*\]\]")
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


def dumps_tables(data: Mapping[str, Any]) -> str:
    """TOML with every list of tables written as `[[name]]` sections (nested ones as `[[parent.name]]`), however
    short: a file a person edits by hand reads best that way, and a problem's line can be found by its header.
    (`tomli_w` alone writes short tables inline, all on the line of `name = [`.)"""
    return _dump_section(data, "").lstrip("\n")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def _dump_section(data: Mapping[str, Any], prefix: str) -> str:
    scalars = {key: value for key, value in data.items() if not _is_table_list(value)}
    text = tomli_w.dumps(scalars)
    for key, value in data.items():
        if _is_table_list(value):
            name = f"{prefix}{format_key(key)}"
            for item in value:
                text += f"\n[[{name}]]\n" + _dump_section(item, f"{name}.").lstrip("\n")
    return text


def format_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomli_w.dumps({key: 0}).split(" = ")[0]
