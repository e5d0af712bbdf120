"""`inversion-table calibrate`: the level offset and gyro bias, the mount and drive checks."""

from __future__ import annotations

import logging
import sys

from controller import exits
from controller.commands.options import PROG, add_table_options



def add_parser(sub) -> None:
    c = sub.add_parser("calibrate", help="measure the level offset and gyro bias; check the mount and drive",
                       description=(
        "With a person at the table (and nobody on it): checks the sensor's mounting, records the "
        "tilt it reads with the bed level and the gyro's bias, checks the mount and the drive by a "
        "head-down jog, and writes the result atomically to [calibration] file. Stop the service "
        "first (sudo systemctl stop inversion-table). Exit: 0 saved, 1 a check failed (nothing "
        "saved), 2 config rejected, 3 start-up refused."))
    add_table_options(c, sim_help="calibrate the simulated table, with a simulated person pressing its buttons")
    c.set_defaults(main=main)


def main(args) -> int:
    from controller.shell import calibrate, service
    from drivers.clock import MonotonicClock
    from controller.errors import CalibrationError
    from controller.shell.drive import RealTime, VirtualTime

    logging.getLogger().setLevel(logging.WARNING)  # the prompts are the conversation; trips still show
    config, source = service.config_for_run(args.config, simulated=args.sim, calibration=args.calibration)
    # Raw readings: the old calibration is not applied. The simulated table runs on virtual time
    # (its person presses the buttons), so a busy machine cannot make a period late.
    if args.sim:
        from drivers.sim.hardware import build
        from drivers.sim.person import SimulatedPerson

        hw = build(config, calibration=None)
        driver = VirtualTime(hw.clock)
        ask = SimulatedPerson(hw, sleep=driver.sleep, now=driver.now).ask
    else:
        from drivers.pi import build

        hw = build(config, clock=MonotonicClock(), calibration=None)
        driver = RealTime(hw.clock)
        ask = input
    print(f"Calibrating the {'simulated' if args.sim else 'real'} table ({source}); Ctrl-C ends it, halting the motor.")
    try:
        calibrate.run(config, hw, say=print, ask=ask, driver=driver)
    except CalibrationError as exc:
        print(f"{PROG}: calibration failed, nothing saved: {exc}", file=sys.stderr)
        return exits.EXIT_INTERNAL
    except EOFError:
        print(f"{PROG}: calibration needs a person at the table answering on a terminal; nothing saved",
              file=sys.stderr)
        return exits.EXIT_INTERNAL
    return 0
