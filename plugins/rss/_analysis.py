"""What an analyzer returns for one article, whichever analyzer it is (local or an LLM)."""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["Analysis", "Analyzer", "ArticleText"]


class ArticleText(msgspec.Struct, frozen=True):
    """An article's extracted main text, as the analyzers receive it."""

    url: str
    title: str | None
    text: str


class Analysis(msgspec.Struct):
    """One article's analysis. ``analyzer`` names who made it (``local``, ``openai:MODEL``,
    ``anthropic:MODEL``), so a stored analysis says where it came from."""

    summary: str
    keywords: list[str]
    language: str | None
    words: int
    reading_minutes: float
    analyzer: str
    #: Tokens the provider counted for this call (prompt + completion); 0 for ``local``.
    tokens: int = 0


class Analyzer(Protocol):
    #: Identifies the analyzer, its model and its prompt's version: part of the cache key, so
    #: a new model or prompt is never answered from an old analysis.
    cache_id: str

    async def analyze(self, article: ArticleText) -> Analysis: ...
