"""`inversion-table remote`: the phone remote's tokens (token, list, revoke) and pairing (pair)."""

from __future__ import annotations

import socket
import sys

from controller.commands.options import Parser, options_anywhere, people_config
from controller.errors import ConfigError
from controller.records.remote_tokens import TokenStore, token_command, tokens_path
from controller.setup.config_remote import DEFAULT_PORT, parse_listen

DEFAULT_NAME = "phone"


def add_parser(sub) -> None:
    r = sub.add_parser("remote", help="the phone remote: make, list and revoke tokens; pair a phone", description=(
        "Tokens for the phone remote ([remote] in the config; README, \"Phone remote\"). A token is shown once, "
        "as the last line of `remote token`; only its hash is kept, next to the history file. Every request but "
        "POST /api/stop needs one. `remote pair` makes a token and prints the page's address with it, and a QR "
        "code a phone's camera opens. Exit: 0 done, 2 refused."))
    r_sub = r.add_subparsers(dest="action", parser_class=Parser, required=True, metavar="ACTION")
    token = r_sub.add_parser("token", help="make a token (printed as the last line)")
    token.add_argument("--name", default=DEFAULT_NAME, help=f"what to call it (default: {DEFAULT_NAME}); "
                                                            "a token of that name is replaced")
    listing = r_sub.add_parser("list", help="list the tokens (names and when made; never the tokens)")
    revoke = r_sub.add_parser("revoke", help="revoke a token: it stops working at its next request")
    revoke.add_argument("name", metavar="NAME")
    pair = r_sub.add_parser("pair", help="make a token and print the page's address and a QR code for a phone")
    pair.add_argument("--name", default=DEFAULT_NAME, help=f"the token's name (default: {DEFAULT_NAME})")
    pair.add_argument("--host", help="the address the phone reaches the Pi at (default: from [remote] listen, "
                                     "or this machine's address on the local network)")
    options_anywhere(r, (token, listing, revoke, pair), lambda parser, **default: parser.add_argument(
        "--config", metavar="FILE", help="config file (default: /etc/inversion-table/config.toml, else the "
                                         "shipped defaults)", **default))
    r.set_defaults(main=main)


def main(args) -> int:
    config, _ = people_config(getattr(args, "config", None))
    store = TokenStore(tokens_path(config.history.file))
    given = getattr(args, "config", None)
    if args.action in ("token", "pair") and any(e.name == args.name for e in store.entries()):
        print(f"note: the earlier token '{args.name}' is replaced: it stops working at its next request",
              file=sys.stderr)
    if args.action == "token":
        token = store.create(args.name)
        print(f"token '{args.name}' made; kept as a hash in {store.path}; it is shown only now:", file=sys.stderr)
        print(token)
    elif args.action == "list":
        entries = store.entries()
        if not entries:
            print(f"no remote tokens in {store.path} (make one with `{token_command('token', config=given)}`)")
        for e in entries:
            print(f"{e.name}\tmade {e.created}")
    elif args.action == "revoke":
        store.revoke(args.name)
        print(f"token '{args.name}' revoked")
    elif args.action == "pair":
        url = pairing_url(config, args.host)
        token = store.create(args.name)
        full = f"{url}#token={token}"
        print(f"Open this on the phone (token '{args.name}'; it pairs the page and is kept there):\n\n  {full}\n")
        import segno

        segno.make(full, error="m").terminal(out=sys.stdout, compact=True)
        if config.remote.listen is None:
            print(f"\nnote: [remote] listen is not set: start the service with --remote HOST:{DEFAULT_PORT}, "
                  "or set it in the config")
    return 0


def pairing_url(config, host: str | None) -> str:
    listen_host, port = parse_listen(config.remote.listen) if config.remote.listen else ("0.0.0.0", DEFAULT_PORT)
    if host is None:
        host = listen_host if listen_host not in ("0.0.0.0", "::") else local_address()
    if any(c in host for c in "/#?@ "):
        raise ConfigError(f"--host {host!r}: give a host name or an address, such as 192.168.1.20")
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def local_address() -> str:
    """This machine's address on the local network (no packet is sent), or its host name."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()
