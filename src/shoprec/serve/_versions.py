"""The pipeline versions a rollback can return to.

The most recent one stays loaded, so the usual rollback (undo the last reload) is instant; older
ones are remembered by artifact path and version id and loaded again when rolled back to, and
a version whose files changed on disk since is refused rather than silently served. Keeping
every kept version loaded would multiply the service's memory (a loaded Electronics pipeline
holds about 280,000 objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shoprec.exceptions import StateConflictError
from shoprec.serve._deployment import Deployment

__all__ = ["KeptVersion", "VersionHistory"]


@dataclass(frozen=True)
class KeptVersion:
    """A version no longer in memory: enough to load it again and to list it."""

    version: str
    path: str
    details: dict[str, Any]

    def info(self) -> dict[str, Any]:
        """What the version endpoint shows."""
        return dict(self.details)


class VersionHistory:
    """The last ``keep`` versions replaced, most recent first.

    Parameters
    ----------
    keep
        How many versions a rollback can reach.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._entries: list[Deployment | KeptVersion] = []

    def push(self, replaced: Deployment) -> None:
        """Remember ``replaced`` as the most recent; older ones are unloaded, those never saved
        (no path to load them from) are forgotten, and the oldest beyond ``keep`` dropped."""
        older: list[Deployment | KeptVersion] = []
        for entry in self._entries:
            if (entry.version, entry.path) == (replaced.version, replaced.path):
                continue  # one entry per artifact
            if isinstance(entry, Deployment):
                if entry.path is None:
                    continue
                entry = KeptVersion(entry.version, entry.path, entry.info())
            older.append(entry)
        self._entries = [replaced, *older][: self.keep]

    @property
    def latest(self) -> Deployment | KeptVersion | None:
        """The version a plain rollback returns to."""
        return self._entries[0] if self._entries else None

    def entries(self) -> list[Deployment | KeptVersion]:
        """Every kept version, most recent first."""
        return list(self._entries)

    def find(self, version: str | None) -> Deployment | KeptVersion:
        """The kept entry of ``version`` (``None``: the most recent).

        Raises
        ------
        StateConflictError
            If no such version is kept (HTTP 409).
        """
        if not self._entries:
            raise StateConflictError("there is no previous pipeline version to roll back to")
        if version is None:
            return self._entries[0]
        for entry in self._entries:
            if entry.version == version:
                return entry
        kept = [entry.version for entry in self._entries]
        raise StateConflictError(f"version {version!r} is not kept; kept versions: {kept}")

    def remove(self, entry: Deployment | KeptVersion) -> None:
        """Forget ``entry`` (it became active)."""
        self._entries = [e for e in self._entries if e is not entry]
