"""The project's exceptions: one family, each also the builtin a caller would catch, wherever it is defined."""

from __future__ import annotations

import pytest

from controller import errors
from drivers import errors as driver_errors

BUILTIN = {"InputError": ValueError, "ConfigError": ValueError, "ProfileError": ValueError,
           "CalibrationError": ValueError, "OutputError": OSError, "HardwareError": OSError, "ImuError": OSError,
           "StartupRefused": RuntimeError}


@pytest.mark.parametrize("name, builtin", sorted(BUILTIN.items()))
def test_every_error_is_the_projects_and_the_builtins(name, builtin):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.InversionTableError) and issubclass(cls, builtin)


def test_the_drivers_errors_are_the_ones_the_application_names():
    assert set(errors.__all__) == {*BUILTIN, "InversionTableError"}
    for name in ("InversionTableError", "InputError", "ConfigError", "HardwareError", "ImuError", "StartupRefused"):
        assert getattr(errors, name) is getattr(driver_errors, name), name
    with pytest.raises(errors.HardwareError):  # an `except` in the application catches what a driver raises
        raise driver_errors.ImuError("no answer")
