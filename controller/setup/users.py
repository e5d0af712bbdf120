"""Users: the contraindications each one acknowledges once, before their first session."""

from __future__ import annotations

from typing import Callable

from controller.core.table_state import GUEST  # noqa: F401 - the users' vocabulary
from controller.errors import InputError

# Raise the version when the text changes in substance: everyone is asked again.
CONTRAINDICATIONS_VERSION = 1
CONTRAINDICATIONS = """\
Inversion is not safe for everyone. Do not use this table, and ask a doctor first, if you have or
have had any of: glaucoma, retinal detachment or other eye disease; heart or circulatory disease;
high blood pressure (over 140/90); a stroke or TIA; a hernia; fragile bones (osteoporosis),
fractures or joint implants; pregnancy; or if you take blood thinners.
Eye pressure roughly doubles within minutes head-down (Weinreb 1984), and blood pressure rises
(Gianakopoulos 1985). Start low (20-30°) and short (1-2 minutes), come up slowly, and rest near
horizontal before standing. Never use the table alone: someone must be within reach of the stop."""


class NotAcknowledged(InputError):
    """A user has not yet acknowledged the contraindications."""


def ack_command(user: str, *, config: str | None = None, history: str | None = None) -> str:
    """The `users ack` command to type, with the --config and --history of the command that needs it."""
    import shlex

    words = ["inversion-table", "users", "ack", user]
    for option, value in (("--config", config), ("--history", history)):
        if value is not None:
            words += [option, value]
    return shlex.join(words)


def require_acknowledged(history, user: str, *, config: str | None = None, history_path: str | None = None) -> None:
    """NotAcknowledged, saying what to run, unless ``user`` has acknowledged the contraindications.
    ``config`` and ``history_path`` are the refused command's --config and --history (None: not given)."""
    if not history.acknowledged(user, CONTRAINDICATIONS_VERSION):
        raise NotAcknowledged(
            f"user '{user}' has not acknowledged the contraindications yet: run "
            f"`{ack_command(user, config=config, history=history_path)}` first (once)"
        )


def acknowledge(history, user: str, *, ask: Callable[[str], str], say: Callable[[str], None]) -> bool:
    """Show the contraindications and record the user's yes; False if they did not say yes."""
    say(CONTRAINDICATIONS)
    try:
        answer = ask(f"\n{user}: none of these applies to me, and I will not use the table alone. Type yes: ")
    except EOFError:  # no one at the keyboard (input closed): no acknowledgement
        answer = ""
    if answer.strip().lower() != "yes":
        say("Not acknowledged: nothing recorded.")
        return False
    history.acknowledge(user, CONTRAINDICATIONS_VERSION)
    say(f"Recorded for {user}.")
    return True
