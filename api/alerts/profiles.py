"""Device profiles by name, for the rules: loaded from the library when first asked for."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from devices.library import ProfileError, resolve_profile
from devices.profile import Profile

log = logging.getLogger(__name__)


class Profiles(Mapping[str, Profile]):
    """Profiles by name, loaded from the library (and ``search``) when first asked for."""

    def __init__(self, search: tuple[Any, ...] = ()) -> None:
        """Look in ``search`` before the shipped library."""
        self.search = search
        self._loaded: dict[str, Profile | None] = {}

    def __getitem__(self, name: str) -> Profile:
        """The profile ``name``; KeyError if there is none (or it is invalid)."""
        if name not in self._loaded:
            try:
                self._loaded[name] = resolve_profile(name, self.search) if name else None
            except ProfileError as exc:
                log.warning("alert rules cannot use profile %r: %s", name, exc)
                self._loaded[name] = None
        found = self._loaded[name]
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        """The names loaded so far."""
        return (name for name, profile in self._loaded.items() if profile is not None)

    def __len__(self) -> int:
        """How many loaded."""
        return sum(1 for _ in self)
