"""`inversion-table doctor`: checks the Pi, the wiring, the config and the calibration."""

from __future__ import annotations

import sys

from controller.commands.options import PROG, add_table_options



def add_parser(sub) -> None:
    d = sub.add_parser("doctor", help="check the Pi, the IMU, the pins, the config and the calibration",
                       description=("Checks GPIO and I2C access, the pin factory, the MPU-6050 (naming clone "
                                    "chips), the buttons, the config, the calibration and the presets, and "
                                    "prints the wiring table for the configured pins. Exit: 0 all is well, "
                                    "1 something needs fixing."))
    add_table_options(d, sim_help="examine the simulated table instead")
    d.set_defaults(main=main)


def main(args) -> int:
    from controller.shell import doctor, service
    from controller.errors import ConfigError
    from controller.shell.status import rich_console

    console = rich_console()

    def why(text: str) -> None:  # the report went to a pipe or a file: say on stderr why the exit is 1
        if not sys.stdout.isatty():
            print(f"{PROG} doctor: exit 1: {text}", file=sys.stderr)

    try:
        config, source = service.config_for_run(args.config, simulated=args.sim, calibration=args.calibration)
    except ConfigError as exc:
        from rich.markup import escape

        console.print(f"[red]FAIL[/] config: {escape(str(exc))}", soft_wrap=True)
        why(f"the config: {exc}")
        return 1
    system = doctor.SimulatedSystem() if args.sim else doctor.System()
    return 0 if doctor.report(config, source, system, out=console.print, why=why) else 1
