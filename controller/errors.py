"""The project's exceptions: each subclasses both InversionTableError and the matching builtin.

The base class and the errors the drivers raise live in ``drivers.errors`` (drivers import no
application code); they are re-exported here, so the application names every error from one place.
"""

from drivers.errors import ConfigError, HardwareError, ImuError, InputError, InversionTableError, StartupRefused

__all__ = [
    "CalibrationError", "ConfigError", "HardwareError", "ImuError", "InputError", "InversionTableError",
    "OutputError", "ProfileError", "StartupRefused",
]


class ProfileError(InputError):
    """A profile is invalid or does not fit the limits: names the file, the field and the limit."""


class OutputError(InversionTableError, OSError):
    """A file the program writes (a simulation's log) could not be written: the message names it and why."""


class CalibrationError(InputError):
    """There is no usable calibration, or a calibration step failed: the message says what to do."""
