"""Artifact helpers shared by every saved part: atomic directory writes, the JSON manifest every
artifact starts with, and the error context every artifact file is read in."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from shoprec.exceptions import ArtifactError

__all__ = ["atomic_directory", "manifest_text", "read_manifest", "reading"]


@contextmanager
def atomic_directory(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``out_dir`` that replaces ``out_dir`` only if the block
    succeeds, so readers never see a half-written export; on error it is removed."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary directory
        yield tmp
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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


def _replace_dir(source: Path, target: Path) -> None:
    """Move the finished ``source`` directory to ``target``, replacing an existing one."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{source.name.rsplit('.', 1)[-1]}")
        target.rename(old)
    source.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _strict(value: Any) -> Any:
    """NaN and infinities (which strict JSON parsers refuse) as null, numpy scalars as Python
    numbers, recursively."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return value


def manifest_text(manifest: Any) -> str:
    """``manifest`` as strict JSON text (``allow_nan=False``; non-finite numbers become null),
    indented, with a final newline: what every artifact's ``manifest.json`` holds."""
    return json.dumps(_strict(manifest), indent=2, allow_nan=False, default=str) + "\n"
