"""Reading the JSON manifest every saved shoprec artifact starts with."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from shoprec.exceptions import ArtifactError

__all__ = ["read_manifest"]


def read_manifest(
    file: Path, fmt: str, *, what: str, required: Collection[str] = ()
) -> dict[str, Any]:
    """The manifest ``file``: a JSON object whose ``format`` is ``fmt`` and which holds the
    ``required`` keys.

    Parameters
    ----------
    file
        The manifest's path.
    fmt
        The format this shoprec reads.
    what
        The artifact, with its article, for messages (``"a pipeline directory"``).
    required
        Keys the manifest must have.

    Raises
    ------
    ArtifactError
        Naming the file and what is wrong with it: missing, unreadable, another format, or
        lacking keys.
    """
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{file} is missing: {file.parent} is not {what}") from None
    except (OSError, ValueError) as error:
        raise ArtifactError(f"{file} is unreadable: {error}") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != fmt:
        raise ArtifactError(f"{file} has format {found!r}; this shoprec reads {fmt!r}")
    missing = set(required) - set(manifest)
    if missing:
        raise ArtifactError(f"{file} lacks {sorted(missing)}")
    return dict(manifest)
