"""Where the service may load pipelines from: one artifacts directory, regular files only, with
a time limit.

A reload names a directory; :class:`ArtifactsDir` resolves it against the artifacts directory
(relative paths are inside it; symlinks are followed and must land inside it too) and refuses
anything that leads outside with :class:`~shoprec.exceptions.OutsideArtifactsError` (HTTP 403)
before looking at it, so the answer is the same whether the outside path exists or not. The
artifact's tree must hold only directories and regular files (a FIFO in place of a file would
block its reader forever), and reading it runs on a daemon thread that the request stops
waiting for after ``timeout_s``: a hung network filesystem ties up one thread, not the service.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from shoprec.exceptions import ArtifactError, OutsideArtifactsError
from shoprec.pipeline import Pipeline

__all__ = ["ArtifactsDir"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_ENTRIES = 100_000  # files and directories in one artifact; a pipeline has a few dozen


class ArtifactsDir:
    """The artifacts directory of a service.

    Parameters
    ----------
    root
        The directory every reloaded pipeline must lie in (``None``: no reload is allowed).
    timeout_s
        Longest wait for an artifact to be read.
    """

    def __init__(self, root: str | Path | None, *, timeout_s: float = 120.0) -> None:
        self.root = None if root is None else Path(root).expanduser().resolve()
        self.timeout_s = timeout_s

    def resolve(self, path: str | Path) -> Path:
        """The real path of the artifact ``path`` names (relative: inside :attr:`root`).

        Raises
        ------
        OutsideArtifactsError
            If it leads outside the artifacts directory (or is the directory itself).
        ArtifactError
            If it is inside but not a directory.
        """
        if self.root is None:
            raise OutsideArtifactsError("the service has no artifacts directory to load from")
        given = Path(path).expanduser()
        try:
            real = (given if given.is_absolute() else self.root / given).resolve()
        except (OSError, RuntimeError):  # a name too long, a symlink loop: nothing to load
            raise ArtifactError("the path cannot be resolved to a directory") from None
        if self.root not in real.parents:
            raise OutsideArtifactsError("the path is outside the service's artifacts directory")
        if not _is_dir(real):
            relative = real.relative_to(self.root)
            raise ArtifactError(f"{relative} in the artifacts directory is not a directory")
        return real

    def load(self, path: str | Path) -> tuple[Pipeline, Path]:
        """Resolve ``path``, check its tree and load the pipeline within the time limit."""
        real = self.resolve(path)
        _check_tree(real)
        pipeline = self.run(lambda: Pipeline.load(real), what=f"loading {real}")
        return pipeline, real

    def run(self, work: Callable[[], T], *, what: str) -> T:
        """``work()`` on a daemon thread; :class:`ArtifactError` if it takes over ``timeout_s``."""
        outcome: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                outcome.append(work())
            except BaseException as error:  # handed to the waiting request thread
                failure.append(error)

        thread = threading.Thread(target=target, name="artifact-load", daemon=True)
        thread.start()
        thread.join(self.timeout_s)
        if thread.is_alive():
            logger.error("%s took over %.0f s; abandoned", what, self.timeout_s)
            raise ArtifactError(
                f"{what} took over {self.timeout_s:.0f} s and was abandoned "
                "(the serving version stays)"
            )
        if failure:
            raise failure[0]
        return outcome[0]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _check_tree(directory: Path) -> None:
    """Refuse anything but directories and regular files under ``directory`` (symlinks too:
    they could lead outside the artifacts directory), without opening a file."""
    entries = 0
    for parent, dirs, files in os.walk(directory, followlinks=False):
        for name in (*dirs, *files):
            entries += 1
            entry = Path(parent) / name
            mode = os.lstat(entry).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ArtifactError(
                    f"{entry} is not a regular file (a symlink, FIFO, socket or device); "
                    "an artifact holds directories and regular files only"
                )
        if entries > _MAX_ENTRIES:
            raise ArtifactError(f"{directory} holds over {_MAX_ENTRIES} entries; not a pipeline")
