"""`inversion-table alerts test`: send a test alert to each of the config's [alerts] urls, and say which took it."""

from __future__ import annotations

import sys

from controller.commands.options import PEOPLE_CONFIG_HELP, Parser, options_anywhere, people_config
from controller.errors import ConfigError


def add_parser(sub) -> None:
    a = sub.add_parser("alerts", help="alerts to a person when someone may be stuck: try them", description=(
        "Alerts go through Apprise to the config's [alerts] urls when someone may be stuck on the table "
        "(README, \"Alerts\"). `alerts test` sends a test alert to each URL, one after the other, and says "
        "whether each took it. Exit: 0 every URL took it, 1 one or more did not, 2 no [alerts] urls."))
    a_sub = a.add_subparsers(dest="action", parser_class=Parser, required=True, metavar="ACTION")
    test = a_sub.add_parser("test", help="send a test alert to each URL and say whether it took it")
    options_anywhere(a, (test,), lambda parser, **default: parser.add_argument(
        "--config", metavar="FILE", help=PEOPLE_CONFIG_HELP, **default))
    a.set_defaults(main=main)


def main(args) -> int:
    from controller.core import alerts as rules
    from controller.shell.alerter import table_name, targets

    config, source = people_config(getattr(args, "config", None))
    if not config.alerts.urls:
        raise ConfigError(f"{source}: no [alerts] urls: nothing to test (add [alerts] urls = [\"ntfy://...\"]; "
                          "README, \"Alerts\")")
    alert = rules.test_alert(table_name(config))
    found, restore = targets(config.alerts.urls)
    took = 0
    try:
        for n, target in enumerate(found, 1):
            # Said first, so that a slow receiver shows whom we are waiting for.
            print(f"{n} of {len(found)}: {target.shown} ... ", end="", flush=True)
            ok, why = target.send(alert)
            took += ok
            print("took it" if ok else "did not take it" + (f" ({why.rstrip('.')})" if why else ""), flush=True)
    finally:
        restore()
    if took < len(found):
        print(f"{len(found) - took} of {len(found)} URL(s) did not take the test alert", file=sys.stderr)
        return 1
    print(f"every URL took the test alert ({took})")
    return 0
