"""Load profiles from YAML files, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path

from devices.profile import PROFILE_DIR, Profile
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
