"""The user's side of a ranker pair: a portrait summary and recent titles in one short text."""

from __future__ import annotations

from collections.abc import Sequence

from shoprec.profiles._portrait import UserPortrait

__all__ = ["user_context_text"]


def user_context_text(
    portrait: UserPortrait | str | None = None,
    recent_titles: Sequence[str] = (),
    *,
    max_titles: int = 5,
) -> str:
    """The user side of a CTR pair, from a portrait summary and recent item titles.

    Template (parts omitted when empty)::

        {summary} Recently: {title_1}; {title_2}; ... {title_k}.

    with titles most recent first, at most ``max_titles`` of them, whitespace collapsed, for
    example ``"Mostly buys Headphones from Sony, premium. Recently: WH-1000XM4; USB-C cable."``.

    Parameters
    ----------
    portrait
        A :class:`~shoprec.profiles.UserPortrait` (its :meth:`summary` is used), an already
        written summary, or ``None``.
    recent_titles
        Titles of the user's items, most recent first.
    max_titles
        At most this many titles are shown.
    """
    summary = portrait.summary() if isinstance(portrait, UserPortrait) else (portrait or "")
    parts = [" ".join(summary.split())]
    titles = [" ".join(t.split()).rstrip(".") for t in recent_titles[:max_titles]]
    titles = [t for t in titles if t]
    if titles:
        parts.append(f"Recently: {'; '.join(titles)}.")
    return " ".join(p for p in parts if p)
