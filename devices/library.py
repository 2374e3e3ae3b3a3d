"""Load profiles from YAML files, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

import yaml

from devices.profile import PROFILE_DIR, Profile, Texts
from facmon.config import ConfigError, load_config


class ProfileError(ConfigError):
    """A profile file is missing or invalid; the message names file, line and field."""


def load_profile(path: Path) -> Profile:
    """Load and validate one profile file.

    Raises:
        ProfileError: the file is missing, not YAML, or invalid.
    """
    try:
        profile = load_config(Profile, path, env={})
    except ConfigError as exc:
        raise ProfileError(str(exc)) from None
    return profile


def resolve_profile(ref: str, search: tuple[Path, ...] = ()) -> Profile:
    """Return the profile named ``ref`` (a library name) or at path ``ref``.

    Names are looked up in ``search`` first, then in the shipped library.

    Raises:
        ProfileError: no such profile, or it is invalid.
    """
    candidate = Path(ref)
    if candidate.suffix in (".yaml", ".yml"):
        return load_profile(candidate)
    for folder in (*search, PROFILE_DIR):
        path = folder / f"{ref}.yaml"
        if path.is_file():
            return load_profile(path)
    raise ProfileError(
        f"no profile named {ref!r} in {', '.join(str(s) for s in (*search, PROFILE_DIR))}"
    )


def untranslated(path: Path, profile: Profile) -> list[str]:
    """``file:line: what`` for each text of ``profile`` lacking English or Chinese.

    ``profile`` was loaded from ``path``; see :func:`missing_texts`.
    """
    lines: dict[tuple[str, ...], int] = {}
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(node, ())] if node is not None else []
    seen: set[int] = set()
    while stack:
        here, loc = stack.pop()
        lines.setdefault(loc, here.start_mark.line + 1)
        if id(here) in seen:  # an alias: walked once (no "billion laughs")
            continue
        seen.add(id(here))
        if isinstance(here, yaml.MappingNode):
            stack.extend((value, (*loc, str(key.value))) for key, value in here.value)
        elif isinstance(here, yaml.SequenceNode):
            stack.extend((item, (*loc, str(i))) for i, item in enumerate(here.value))
    found = []
    for where, what in missing_texts(profile):
        loc = tuple(map(str, where))
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
        found.append(f"{path}:{line}: {what}")
    return found


def missing_texts(profile: Profile) -> list[tuple[tuple[str | int, ...], str]]:
    """The texts people read that lack a language: (where in the file, what is missing).

    Every point, flag, state (enum code) and fault needs a ``label`` in en and zh; a
    description, where there is one, needs both too.
    """
    found: list[tuple[tuple[str | int, ...], str]] = []

    def need(where: tuple[str | int, ...], what: str, text: Texts, *, given: bool) -> None:
        if text.complete or (given and text.blank):
            return
        missing = "en and zh" if text.blank else ("zh" if text.en else "en")
        found.append((where, f"{what} has no {missing}"))

    need(("description",), "the profile's description", profile.description, given=True)
    for index, point in enumerate(profile.points):
        at: tuple[str | int, ...] = ("points", index)
        need((*at, "label"), f"point {point.name}: label", point.label, given=False)
        need(
            (*at, "description"), f"point {point.name}: description", point.description, given=True
        )
        for code, state in point.enum.items():
            need((*at, "enum", code), f"point {point.name}: state {code}", state, given=False)
        for bit, flag in point.flags.items():
            flagged = (*at, "flags", bit)
            need(flagged, f"flag {flag.name}: label", flag.label, given=False)
            need(flagged, f"flag {flag.name}: description", flag.description, given=True)
    for index, fault in enumerate(profile.faults):
        what = f"fault {fault.key}"
        need(("faults", index), f"{what}: label", fault.label, given=False)
        need(("faults", index), f"{what}: description", fault.description, given=True)
    return found
