"""The `inversion-table` command: its parser, made of one parser per subcommand, and its errors."""

from __future__ import annotations

import logging
import os
import sys
import traceback

from controller import exits
from controller.commands import alerts, calibrate, doctor, history, plot, profiles, remote, run, simulate, users
from controller.commands.options import PROG, Parser
from controller.errors import HardwareError, InputError, OutputError, StartupRefused

COMMANDS = (simulate, plot, users, history, run, remote, alerts, calibrate, doctor, profiles)  # in --help's order


def _parser() -> Parser:
    p = Parser(prog=PROG, description="Controller for a motorized inversion table, and its simulator.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inversion-table")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        code = _command(argv)
        sys.stdout.flush()  # buffered output meets a closed pipe here, at the latest
        return code
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """The reader of our output went away: send what is still buffered nowhere, say nothing, exit 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush then goes nowhere
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return exits.EXIT_CLOSED_PIPE


def _command(argv: list[str] | None) -> int:
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return exits.EXIT_REJECTED
        return args.main(args)
    except InputError as exc:
        lines = str(exc).splitlines() or [""]
        if len(lines) > 1 and argv_command(argv) == "simulate":
            # simulate says one thing; `profiles check` lists every problem
            lines = [lines[0] + " (inversion-table profiles check FILE lists them all)"]
        print("\n".join(f"{PROG}: error: {line}" for line in lines), file=sys.stderr)
        return exits.EXIT_REJECTED
    except StartupRefused as exc:
        print(f"{PROG}: start-up refused: {exc}", file=sys.stderr)
        return exits.EXIT_LATCHED
    except OutputError as exc:  # a log that cannot be written mid-run (a full disk): not a bug, but no result
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exits.EXIT_INTERNAL
    except HardwareError as exc:
        print(f"{PROG}: hardware error: {exc}", file=sys.stderr)
        return exits.EXIT_INTERNAL
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # not a bug: main() ends quietly
    except Exception:  # a bug: say so plainly, with the details a report needs
        print(f"{PROG}: internal error (please report it):\n{traceback.format_exc()}", file=sys.stderr)
        return exits.EXIT_INTERNAL


def argv_command(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


