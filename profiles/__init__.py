"""Session profiles: the pydantic models of the profile format and the built-in presets."""

from profiles.model import (
    HoldStep,
    OscillateStep,
    Profile,
    check_profile_limits,
    load_profile,
    preset_names,
    resolve_profile,
)

__all__ = [
    "HoldStep",
    "OscillateStep",
    "Profile",
    "check_profile_limits",
    "load_profile",
    "preset_names",
    "resolve_profile",
]
