"""`inversion-table history`: the recorded sessions, listed and summed up per user."""

from __future__ import annotations

import os
import sys

from controller.commands.options import PEOPLE_CONFIG_HELP, open_history, people_config
from controller.setup.validation import format_duration



def add_parser(sub) -> None:
    h = sub.add_parser("history", help="list and summarise the recorded sessions", description=(
        "List the sessions recorded in the history file (user, profile, level, start, time head-down, highest "
        "angle, how it ended) and sum them up per user; --plot draws them."))
    h.add_argument("--config", metavar="FILE", help=PEOPLE_CONFIG_HELP)
    h.add_argument("--history", metavar="FILE", help="history file (default: the config's [history] file)")
    h.add_argument("--user", metavar="NAME", help="only this user's sessions")
    h.add_argument("--plot", metavar="FILE", help="also draw each session's angle and time head-down to FILE")
    h.set_defaults(main=main)


def main(args) -> int:
    from rich.table import Table

    from controller.shell.status import rich_console

    config, _ = people_config(args.config)
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
        from controller.records.plot import plot_history

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
