"""Forgetting users in a fitted pipeline: a deletion request reaches the training histories its
components keep (and the per-user state some learn), in memory and, once saved, on disk."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from shoprec.pipeline._pipeline import Pipeline
from shoprec.store import user_digest

__all__ = ["forget_users", "training_users"]


def training_users(pipeline: Pipeline) -> set[str]:
    """Every user whose training history some component of ``pipeline`` keeps."""
    users: set[str] = set()
    for component in pipeline.components.values():
        users.update(component.histories_)
    return users


def forget_users(
    pipeline: Pipeline,
    user_ids: Iterable[str] = (),
    *,
    digests: Collection[str] = (),
) -> set[str]:
    """Remove users from every component of ``pipeline``: those in ``user_ids`` and those whose
    :func:`user_digest` is in ``digests`` (a deletion list). Returns the users removed; save the
    pipeline to remove them from its directory too."""
    wanted = set(user_ids)
    if digests:
        wanted |= {user for user in training_users(pipeline) if user_digest(user) in digests}
    forgotten: set[str] = set()
    if not wanted:
        return forgotten
    for component in pipeline.components.values():
        forgotten.update(component.forget_users(wanted))
    return forgotten
