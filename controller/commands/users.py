"""`inversion-table users`: list the users, or record a user's acknowledgement of the contraindications."""

from __future__ import annotations

import os

from controller.commands.options import PEOPLE_CONFIG_HELP, Parser, open_history, options_anywhere, people_config
from controller.setup.config import Config
from controller.setup.validation import format_duration



def add_parser(sub) -> None:
    u = sub.add_parser("users", help="list the users, or record a user's acknowledgement of the contraindications",
                       description=(
        "List the config's [[users]] with their limits and whether each has acknowledged the "
        "contraindications, or (ack NAME) show them to a user and record their yes, once per user, in the "
        "history file."))
    u_sub = u.add_subparsers(dest="action", parser_class=Parser)
    u_list = u_sub.add_parser("list", help="list the users and their limits (the default)")
    ack = u_sub.add_parser("ack", help="show the contraindications and record the user's yes (once per user)")
    ack.add_argument("name", metavar="NAME")
    options_anywhere(u, (u_list, ack), lambda parser, **default: (
        parser.add_argument("--config", metavar="FILE", help=PEOPLE_CONFIG_HELP, **default),
        parser.add_argument("--history", metavar="FILE", help="history file (default: the config's [history] file)",
                            **default)))
    u.set_defaults(main=main)


def _user(config: Config, source: str, name: str):
    """The config's user ``name``; else ConfigError naming the config that was read."""
    from controller.errors import ConfigError

    if not config.users:
        raise ConfigError(f"no user named '{name}' in {source}: it has no [[users]] (--config FILE names a config "
                          "that has)")
    if not any(u.name == name for u in config.users):
        raise ConfigError(f"no user named '{name}' in {source} (users: {', '.join(u.name for u in config.users)})")
    return config.user(name)


def main(args) -> int:
    from controller.records.history import HistoryError
    from controller.setup.users import CONTRAINDICATIONS_VERSION, acknowledge, ack_command

    config, source = people_config(args.config)
    path = args.history or config.history.file
    if args.action == "ack":
        _user(config, source, args.name)  # only a user the config knows
        with open_history(path, create_folder=True) as history:
            return 0 if acknowledge(history, args.name, ask=input, say=print) else 1
    if not config.users:
        print(f"no users in {source}: add [[users]] to a config (see systemd/config.example.toml) and name it "
              "with --config FILE")
        return 0
    # Listing needs no history: without one, nobody has acknowledged anything yet.
    history, unread = None, "not acknowledged (no history yet)"
    if os.path.exists(path):
        try:
            history = open_history(path)
        except HistoryError as e:
            unread = f"unknown ({e})"
    try:
        for user in config.users:
            limits = ", ".join(part for part in (
                f"max_angle {user.max_angle:g}°" if user.max_angle is not None else "",
                f"max_head_down {format_duration(user.max_head_down)}" if user.max_head_down is not None else "",
                f"max_speed {user.max_speed:g}°/s" if user.max_speed is not None else "") if part)
            if history is None:
                ack = unread
            else:
                done = history.acknowledged(user.name, CONTRAINDICATIONS_VERSION)
                ack = "acknowledged" if done else "NOT acknowledged"
            print(f"{user.name:12} {limits or 'the config limits'}; contraindications {ack}")
    finally:
        if history is not None:
            history.close()
    if history is None and not os.path.exists(path):
        print(f"no history at {path} yet: `{ack_command('NAME', config=args.config, history=args.history)}` "
              "creates it")
    return 0
