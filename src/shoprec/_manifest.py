"""Reading the JSON manifest every saved shoprec artifact starts with, and the error context
every artifact file is read in."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shoprec.exceptions import ArtifactError

__all__ = ["read_manifest", "reading"]


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


@contextmanager
def reading(file: Path) -> Iterator[None]:
    """Turn any error raised while reading ``file`` into an :class:`ArtifactError` naming it.

    An artifact is outside input and its parsers (json, safetensors, parquet, numpy, the
    constructors its config feeds) raise many error types; whichever it is, the artifact is at
    fault, and the caller (a reload) must see a refusal naming the file, not a crash.
    """
    try:
        yield
    except ArtifactError as error:
        if str(file) in str(error):
            raise
        raise ArtifactError(f"{file}: {error}") from error
    except Exception as error:
        raise ArtifactError(f"{file}: {type(error).__name__}: {error}") from error
