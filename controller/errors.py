"""The project's exceptions: each subclasses both InversionTableError and the matching builtin."""


class InversionTableError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(InversionTableError, ValueError):
    """A file or option the user gave is invalid; the message names what and why."""


class ConfigError(InputError):
    """The config file is invalid: the message names the file, the key and the limit."""


class ProfileError(InputError):
    """A profile is invalid or does not fit the limits: names the file, the field and the limit."""


class OutputError(InversionTableError, OSError):
    """A file the program writes (a simulation's log) could not be written: the message names it and why."""


class HardwareError(InversionTableError, OSError):
    """A device could not be reached or answered wrongly."""


class ImuError(HardwareError):
    """The MPU-6050 could not be read (I2C error, wrong chip, no answer)."""


class StartupRefused(InversionTableError, RuntimeError):
    """Start-up was refused for safety, e.g. the stop button is held at boot."""


class CalibrationError(InputError):
    """There is no usable calibration, or a calibration step failed: the message says what to do."""
