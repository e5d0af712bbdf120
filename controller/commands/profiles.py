"""`inversion-table profiles`: list the presets, or check a profile against the config."""

from __future__ import annotations

from controller.commands.options import Parser, config_from, options_anywhere
from controller.setup.preflight import check_summary, prepare_profile


def add_parser(sub) -> None:
    pr = sub.add_parser("profiles", help="list the presets, or check a profile file", description=(
        "List the shipped presets and those the config's table offers, or check a profile (a .toml file or a "
        "preset) against the config's limits and session timeout, as simulate and run do before anything "
        "moves. Exit: 0 listed or the profile is fine, 2 rejected (every problem is listed)."))
    pr_sub = pr.add_subparsers(dest="action", parser_class=Parser)
    pr_list = pr_sub.add_parser("list", help="list the presets (the default)")
    chk = pr_sub.add_parser("check", help="validate a profile file against the config")
    chk.add_argument("file", metavar="FILE")
    options_anywhere(pr, (pr_list, chk), lambda parser, **default: parser.add_argument(
        "--config", metavar="FILE", help="config file (default: the shipped defaults)", **default))
    pr.set_defaults(main=main)


def main(args) -> int:
    from profiles import preset_names, resolve_profile

    config, config_source = config_from(getattr(args, "config", None))
    if args.action == "check":
        prepared = prepare_profile(args.file, config, config_source=config_source)
        print(check_summary(args.file, prepared, config))
        return 0
    names = preset_names()
    width = max(map(len, names)) + 1
    for name in names:
        profile, _ = resolve_profile(name)
        print(f"{name:{width}} {profile.description}")
    # The table's presets as `run` prepares them, so a name that is no preset, or one over the
    # config's limits, is refused here too (exit 2), not only when the service starts.
    from controller.shell.service import user_choices

    notes: list[str] = []
    table, *users = user_choices(config, config_source, first=None, history=None, say=notes.append)
    print(f"\non the table ({config_source}, [presets] available): {', '.join(p.name for p in table.presets)}")
    for user in users:
        print(f"offered to user '{user.name}': {', '.join(p.name for p in user.presets) or 'none'}")
    for note in dict.fromkeys(notes):  # each once, though every user's presets are prepared
        print(f"  {note}")
    return 0
