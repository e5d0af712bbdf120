"""What a person sees: the one console factory the commands print through, and, for a simulated
run, a live status line or a progress bar with --fast."""

from __future__ import annotations

import errno
import sys

from rich.console import Console as RichConsole
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

# Events worth a line of their own while watching a run.
SHOWN_EVENTS = ("button", "trip", "fault", "return", "session", "home", "notice", "deadman")
# ...and those shown even with --fast, where the rest would scroll past unread (and a return the
# table starts by itself, a timeout's).
URGENT_EVENTS = ("trip", "notice", "deadman")
AUTOMATIC_RETURNS = ("session-timeout", "idle-timeout")


class _RichConsole(RichConsole):
    def on_broken_pipe(self) -> None:
        # rich would exit 1 here; a closed pipe is the command's business (cli.main: quietly, 141)
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


# Piped or redirected, output is for grep and files: lines as long as they are, tables as wide as
# their data, never wrapped or cut to 80 columns (a path broken mid-word cannot be copied).
PIPE_WIDTH = 10_000


def rich_console(*, stderr: bool = False, **options) -> RichConsole:
    """The console every command prints through (stdout, or ``stderr=True``): a terminal's width
    and wrapping on a terminal; when not a terminal, no wrapping and no truncation."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        options.setdefault("width", PIPE_WIDTH)
        options.setdefault("soft_wrap", True)
    return _RichConsole(highlight=False, stderr=stderr, **options)


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def describe_event(record: dict) -> str:
    kind = record["event"]
    detail = {k: v for k, v in record.items() if k not in ("t", "event")}
    text = " ".join(f"{v}" if k in ("name", "reason", "kind", "action", "message") else f"{k}={v}" for k, v in detail.items())
    if kind in ("trip", "deadman"):
        from controller.core.reasons import describe

        text = describe(record["reason"])  # the code and what happened, as the journal says it
    return f"{_clock(record['t'])}  {kind:8} {text}"


def urgent(record: dict) -> bool:
    """Whether an event is shown even in a --fast run."""
    kind = record.get("event")
    return kind in URGENT_EVENTS or (kind == "return" and record.get("reason") in AUTOMATIC_RETURNS)


class Console:
    """Shows a run on a terminal; on a pipe or file it prints events only, and never redraws."""

    def __init__(self, *, live: bool, expected: float | None, until: float | None) -> None:
        self.live = live
        self.expected = expected  # seconds of steps in the profile, for "time left"
        self.until = until
        self.tty = sys.stdout.isatty()
        self._console = rich_console()
        self._display = None
        self._task = None
        self._session_start: float | None = None
        self._pipe_closed = False

    def log_handler(self):
        """A logging handler that prints above the live line instead of through it."""
        from rich.logging import RichHandler

        return RichHandler(console=self._console, show_time=False, show_path=False, show_level=False)

    def __enter__(self) -> Console:
        if not self.tty:
            return self
        if self.live:
            self._display = Live(Text(""), console=self._console, refresh_per_second=8, transient=True)
        else:
            total = self.until or ((self.expected or 0) + 120.0)  # steps plus a generous way home
            self._display = Progress(
                TextColumn("[bold]simulating"), BarColumn(), TextColumn("{task.description}"),
                TimeElapsedColumn(), console=self._console, transient=True,
            )
            self._task = self._display.add_task("", total=total)
        self._display.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._display is not None:
            self._display.__exit__(*exc)

    def tick(self, record: dict) -> None:
        if self._pipe_closed:  # seen by event() inside a period; raised here, between periods
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if self._display is None:  # no terminal (a pipe, a file): nobody would see the line
            return
        t = record["t"]
        line = (
            f"t {_clock(t)}  {record['state']:9}  angle {record['angle'] if record['angle'] is not None else float('nan'):6.1f}°  "
            f"target {record['target'] if record['target'] is not None else float('nan'):6.1f}°"
        )
        if self._session_start is not None and self.expected is not None and record["state"] == "running":
            line += f"  left {_clock(self._session_start + self.expected - t)}"
        if isinstance(self._display, Live):
            self._display.update(Text(line))
        elif self._display is not None and self._task is not None:
            self._display.update(self._task, completed=t, description=f"t={t:7.1f} s {record['state']}")

    def event(self, record: dict) -> None:
        if record.get("event") == "session" and record.get("action") == "start":
            self._session_start = record["t"]
        kind = record.get("event")
        if kind in SHOWN_EVENTS and (self.live or urgent(record)) and not self._pipe_closed:
            try:
                self._console.print(describe_event(record))
            except BrokenPipeError:  # called inside a control period: never raise there
                self._pipe_closed = True
