"""The hardware side's exceptions, and the project's base class: each also subclasses the matching builtin."""


class InversionTableError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(InversionTableError, ValueError):
    """A file or option the user gave is invalid; the message names what and why."""


class ConfigError(InputError):
    """The config file is invalid: the message names the file, the key and the limit."""


class HardwareError(InversionTableError, OSError):
    """A device could not be reached or answered wrongly."""


class ImuError(HardwareError):
    """The MPU-6050 could not be read (I2C error, wrong chip, no answer)."""


class StartupRefused(InversionTableError, RuntimeError):
    """Start-up was refused for safety, e.g. the stop button is held at boot."""
