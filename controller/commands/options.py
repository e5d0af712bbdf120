"""What the commands share: the program's name, the parser class, number options, configs and the history file."""

from __future__ import annotations

import argparse
import os

from controller.errors import InputError
from controller.records.history import History
from controller.setup.config import DEFAULT_CONFIG_PATH, Config, load_config
from controller.setup.validation import shown

PROG = "inversion-table"
PEOPLE_CONFIG_HELP = f"config file (default: {DEFAULT_CONFIG_PATH} if present, else the shipped defaults)"
CALIBRATION_HELP = ("calibration file (default: the config's [calibration] file; with --sim, "
                    "sim-calibration.json in the current directory)")


def add_table_options(parser, *, sim_help: str) -> None:
    """--config, --calibration and --sim: how the commands that drive a table find it."""
    parser.add_argument("--config", metavar="FILE", help=f"config file (default: {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--calibration", metavar="FILE", help=CALIBRATION_HELP)
    parser.add_argument("--sim", action="store_true", help=sim_help)


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, like every other rejected input."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised through main()
        raise InputError(f"{message} (see '{self.prog} --help')")


def whole_number(text: str) -> int:
    """argparse's int, with a long value cut short in the message."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {shown(text)}") from None


def number(text: str) -> float:
    """argparse's float, with a long value cut short in the message (nan and inf: checked where used)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {shown(text)}") from None


def options_anywhere(parent, children, add) -> None:
    """Options a command takes before or after its action (`profiles --config X check F`, or after F).

    argparse lets an action's defaults overwrite what was given before it, so there they default to
    nothing at all (SUPPRESS) and only the command sets the default."""
    add(parent)
    for child in children:
        add(child, default=argparse.SUPPRESS)


def config_from(path: str | None):
    """--config, else the shipped defaults; and what to call it."""
    return load_config(path), (path or "the default config")


def people_config(path: str | None) -> tuple[Config, str]:
    """The config and what to call it: --config, else /etc/inversion-table/config.toml, else the defaults."""
    if path is None and not os.path.exists(DEFAULT_CONFIG_PATH):
        return Config(), f"the shipped defaults (there is no {DEFAULT_CONFIG_PATH})"
    path = path or DEFAULT_CONFIG_PATH
    return load_config(path), path


def open_history(path: str, *, create_folder: bool = False) -> History:
    """The history file, created if new; its folder must exist, or (``create_folder``) be created:
    a clear error otherwise."""
    from controller.records.history import HistoryError

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        if not create_folder:
            raise HistoryError(f"{path}: the folder {folder} does not exist (systemd/install.sh creates it): "
                               "create it, or name another file (--history or [history] file)")
        try:
            os.makedirs(folder)
        except OSError as e:
            raise HistoryError(f"{path}: cannot create the folder {folder} ({e.strerror or e}): create it (on the "
                               "table, systemd/install.sh does), or use --history FILE for a file elsewhere") from None
    return History(path)


