"""The vocabulary of asset categories: ids with their names in zh-CN and en, as data.

An asset's ``category`` in the registry and every ``categories:`` of an alert rule's
``match`` or a notification route's ``match`` is one of these ids. facmon ships its
vocabulary in ``api/categories.yaml``; a site adds its own in the API's configuration
(``ApiConfig.categories``). Checked when something is written (an asset created, changed
or imported; rules and routes loaded), never when it is read: rows stored before a
category was known still list.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from facmon.config import ConfigModel
from facmon.types import Slug

SHIPPED = Path(__file__).with_name("categories.yaml")
"""facmon's own vocabulary."""


class Category(ConfigModel):
    """An asset category: its id and what people call it."""

    id: Slug
    """The id an asset's `category` holds (a slug)."""
    en: str = Field(min_length=1, max_length=100)
    """Its name in English."""
    zh: str = Field(min_length=1, max_length=100)
    """Its name in Simplified Chinese."""
    aliases: list[Slug] = Field(default_factory=list)
    """Other words for it, offered as "did you mean" when written instead of the id."""


class UnknownCategory(ValueError):
    """A category that is not in the vocabulary; the message lists the known ones."""


class _File(BaseModel):
    categories: list[Category]


class Vocabulary:
    """The categories an asset may have, in order, looked up by id."""

    def __init__(self, categories: Iterable[Category]) -> None:
        """Keep ``categories``.

        Raises:
            ValueError: an id is given twice.
        """
        self.categories: dict[str, Category] = {}
        for category in categories:
            if category.id in self.categories:
                raise ValueError(f"category {category.id!r} is given twice")
            self.categories[category.id] = category

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` is a known id."""
        return value in self.categories

    def __iter__(self) -> Iterator[Category]:
        """The categories, in their order."""
        return iter(self.categories.values())

    def extended(self, extra: Iterable[Category]) -> Vocabulary:
        """This vocabulary and ``extra`` after it (a site's own categories).

        Raises:
            ValueError: an id of ``extra`` is already known or given twice.
        """
        return Vocabulary([*self, *extra])

    def check(self, value: str) -> str:
        """``value`` if it is a known id.

        Raises:
            UnknownCategory: not known; the message says which close ids were perhaps meant
                and lists the known ones.
        """
        if value in self.categories:
            return value
        guesses = self.suggestions(value)
        hint = f"; did you mean {' or '.join(map(repr, guesses))}?" if guesses else ""
        known = ", ".join(self.categories)
        raise UnknownCategory(f"unknown asset category {value!r}{hint} (known: {known})")

    def suggestions(self, value: str) -> list[str]:
        """The ids ``value`` perhaps means: those it is an alias of, then those it is close to."""
        words = value.strip().lower().replace("_", "-").replace(" ", "-")
        named = [c.id for c in self if words in c.aliases or words == c.id]
        spelled: dict[str, str] = {}  # a word (id or alias) → the id it names first
        for category in self:
            for word in (category.id, *category.aliases):
                spelled.setdefault(word, category.id)
        close = [spelled[w] for w in difflib.get_close_matches(words, spelled, n=3, cutoff=0.75)]
        return list(dict.fromkeys([*named, *close]))[:3]


@cache
def shipped() -> Vocabulary:
    """The vocabulary facmon ships (``api/categories.yaml``), read once."""
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return Vocabulary(_File.model_validate(data).categories)
