"""The commands about people: `users` (list, acknowledge) and `history` (see controller/cli.py)."""

from __future__ import annotations

import os
import sys

from controller.config import DEFAULT_CONFIG_PATH, Config, load_config
from controller.history import History
from controller.validation import format_duration


def _config(path: str | None) -> tuple[Config, str]:
    """The config and what to call it: --config, else /etc/inversion-table/config.toml, else the defaults."""
    if path is None and not os.path.exists(DEFAULT_CONFIG_PATH):
        return Config(), f"the shipped defaults (there is no {DEFAULT_CONFIG_PATH})"
    path = path or DEFAULT_CONFIG_PATH
    return load_config(path), path


def open_history(path: str, *, create_folder: bool = False) -> History:
    """The history file, created if new; its folder must exist, or (``create_folder``) be created:
    a clear error otherwise."""
    from controller.history import HistoryError

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


def _user(config: Config, source: str, name: str):
    """The config's user ``name``; else ConfigError naming the config that was read."""
    from controller.errors import ConfigError

    if not config.users:
        raise ConfigError(f"no user named '{name}' in {source}: it has no [[users]] (--config FILE names a config "
                          "that has)")
    if not any(u.name == name for u in config.users):
        raise ConfigError(f"no user named '{name}' in {source} (users: {', '.join(u.name for u in config.users)})")
    return config.user(name)


def users(args) -> int:
    from controller.history import HistoryError
    from controller.users import CONTRAINDICATIONS_VERSION, acknowledge, ack_command

    config, source = _config(args.config)
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


def history(args) -> int:
    from rich.table import Table

    from controller.status import rich_console

    config, _ = _config(args.config)
    path = args.history or config.history.file
    if not os.path.exists(path):
        print(f"{path}: no sessions recorded yet", file=sys.stderr)
        return 0
    with open_history(path) as h:
        sessions = h.sessions(args.user)
        everyone = sorted({s.user for s in h.sessions(None)}) if args.user is not None and not sessions else []
    if not sessions:  # say so, rather than draw an empty table
        if args.user is None:
            print(f"{path}: no sessions recorded yet", file=sys.stderr)
        else:
            print(f"no sessions of user '{args.user}' in {path}"
                  + (f" (sessions of: {', '.join(everyone)})" if everyone else " (no sessions at all yet)"),
                  file=sys.stderr)
        return 0
    table = Table(title=f"sessions in {path}")
    for column in ("#", "user", "profile", "level", "started (UTC)", "head-down", "max angle", "ended"):
        table.add_column(column)
    for s in sessions:
        table.add_row(str(s.id), s.user, s.profile, "" if s.level is None else str(s.level + 1), s.started[:16],
                      format_duration(round(s.head_down)), "" if s.max_angle is None else f"{s.max_angle:.0f}°",
                      s.outcome)
    console = rich_console()
    console.print(table)
    if args.plot:
        from controller.plot import plot_history

        drawn = plot_history(sessions, args.plot, title=f"sessions{f' of {args.user}' if args.user else ''} in {path}")
        print(f"{drawn.path}: {drawn.count} session(s) drawn")
    for user in sorted({s.user for s in sessions}):
        mine = [s for s in sessions if s.user == user]
        done = [s for s in mine if s.outcome == "completed"]
        angles = [s.max_angle for s in mine if s.max_angle is not None]
        console.print(f"{user}: {len(mine)} session(s), {len(done)} completed, "
                      f"{format_duration(round(sum(s.head_down for s in mine)))} head-down in all"
                      + (f", up to {max(angles):.0f}°" if angles else ""))
    return 0
