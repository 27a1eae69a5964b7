"""The catalog file on disk (catalog.toml beside plans.toml): read it naming the line of any problem, write it
atomically with a `.bak`, never over a file that could not be read and never an invalid catalog."""

from __future__ import annotations

from pathlib import Path

from portal_tui.domain.catalog import Catalog, CatalogError
from portal_tui.services.errors import ConfigFileError
from portal_tui.services.toml_file import (
    atomic_write,
    backup_path,
    dumps_tables,
    field_error,
    file_fingerprint,
    problems_error,
    read_toml,
)

TITLE = "The catalog file has a problem"


class CatalogStore:
    """Loads and saves the catalog file. Loading never writes; a broken file stays as it is."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def backup_path(self) -> Path:
        return backup_path(self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def fingerprint(self) -> str | None:
        return file_fingerprint(self.path)

    def load(self) -> Catalog:
        """The catalog on disk; an empty one when the file does not exist yet."""
        read = read_toml(self.path, title=TITLE)
        if read is None:
            return Catalog()
        text, data = read
        try:
            catalog = Catalog.from_toml_dict(data)
        except CatalogError as error:
            raise field_error(self.path, text, error.field, f"{error.field} {error.message}", title=TITLE) from None
        problems = catalog.validate()
        if problems:
            raise problems_error(self.path, text, problems, title=TITLE)
        return catalog

    def save(self, catalog: Catalog) -> None:
        """Write atomically (temp file, fsync, previous file kept as .bak, rename); an invalid catalog is refused
        before anything is written."""
        problems = catalog.validate()
        if problems:
            first = problems[0]
            others = len(problems) - 1
            more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
            error = ConfigFileError(
                f"The catalog was not saved: {first.field}: {first.message}{more}",
                path=self.path,
                field=first.field,
                hint=f"{self.path.name} was left as it was.",
            )
            error.title = TITLE
            raise error
        text = dumps_tables(catalog.to_toml_dict())
        try:
            atomic_write(self.path, text)
        except OSError as error:
            failure = ConfigFileError(
                f"Could not save {self.path}: {error.strerror}",
                path=self.path,
                hint="Check the folder's permissions and free space.",
            )
            failure.title = TITLE
            raise failure from None
