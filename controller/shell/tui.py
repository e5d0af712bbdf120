"""`simulate --interactive`: the simulated table in a terminal (Textual); keys are its buttons."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, ProgressBar, RichLog, Static

from controller.shell import simulate as sim
from controller.core.state import LONG_PRESS
from controller.shell.status import describe_event
from controller.setup.validation import format_duration

FRAME_RATE = 20  # screen updates per second
DRAWING_WIDTH, DRAWING_HEIGHT = 41, 15  # the drawing's size before the screen is laid out
# Hold-to-run buttons: a terminal reports key presses but not releases, so their key toggles the
# hold and space lets go of everything (the screen shows what is held).
HOLD_KEYS = {"u": "up", "d": "down", "h": "return"}


def drawing(angle: float | None, *, width: int = DRAWING_WIDTH, height: int = DRAWING_HEIGHT) -> str:
    """The bed as a line through its pivot at ``angle`` (head-down positive), head marked 'O'.

    The bed is as long as fits the box at every angle from -90° to 90°, so the head is always drawn."""
    grid = [[" "] * width for _ in range(height)]
    cx, cy = width // 2, height // 2
    floor = height - 1
    for x in range(width):
        grid[floor][x] = "_"
    for y in range(cy + 1, floor):
        grid[y][cx] = "|"  # the stand
    if angle is None:
        return "\n".join("".join(row) for row in grid)
    # Half the bed's length, in columns: within the width, and (a row is two columns tall) within
    # the rows above the pivot and those between it and the floor. Even, so half of it is whole.
    half = max(2, min(cx - 1, width - 2 - cx, 2 * cy, 2 * (floor - 1 - cy)))
    half -= half % 2
    a = math.radians(angle)
    for i in range(-half, half + 1):
        # x grows toward the head; head-down tilts the head end down (screen y grows downward).
        x = cx + round(i * math.cos(a))
        y = cy + round(i * math.sin(a) * 0.5)  # terminal cells are about twice as tall as wide
        if 0 <= x < width and 0 <= y < height:
            grid[y][x] = "="
    hx, hy = cx + round(half * math.cos(a)), cy + round(half * math.sin(a) * 0.5)
    grid[hy][hx] = "O"  # the head: within the box by the choice of `half`
    grid[cy][cx] = "+"
    return "\n".join("".join(row) for row in grid)


class SimulatorApp(App):
    """The real controller on the simulated table, advanced on the app's clock at ``speed`` x real time."""

    # Fits 80 x 24: the drawing and the status above, the events below; both grow on a larger screen.
    CSS = """
    #main { height: 2fr; min-height: 15; }
    #table { width: 2fr; min-width: 25; height: 100%; border: round $accent; }
    #status { width: 3fr; min-width: 42; height: 100%; border: round $accent; padding: 0 1; }
    #log { height: 1fr; min-height: 5; border: round $accent; }
    """
    ENABLE_COMMAND_PALETTE = False  # its key in the footer would push the table's keys off an 80-column screen
    BINDINGS = [  # h, u and d hold their button until pressed again or space
        Binding("s", "button('stop')", "stop"),
        Binding("r", "button('reset')", "reset"),
        Binding("g", "button('start')", "start"),
        Binding("h", "hold('return')", "return"),
        Binding("u", "hold('up')", "up"),
        Binding("d", "hold('down')", "down"),
        Binding("space", "release_all", "let go"),
        Binding("p", "button('select')", "select"),
        Binding("P", "next_user", "user"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, simulation: sim.Simulation, *, speed: float = 1.0, expected: float | None = None) -> None:
        super().__init__()
        # expected: the session's length in s, for the progress bar; without it, each preset's as it starts
        self.simulation, self.speed, self.expected = simulation, speed, expected
        self._given_expected = expected
        self.t = 0.0  # simulated seconds shown so far
        self.held: set[str] = set()
        self.session_start: float | None = None
        self.events: list[dict] = []
        simulation.on_event = self.events.append

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            yield Static(id="table")
            with Vertical(id="status"):
                yield Static(id="state")
                yield ProgressBar(id="progress", total=self.expected or 100, show_eta=False)
        yield RichLog(id="log", max_lines=200)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "inversion-table: simulated table"
        self.set_interval(1 / FRAME_RATE, self.advance)
        self.refresh_screen()

    # -- the clock -------------------------------------------------------------------------------
    def advance(self, seconds: float | None = None) -> None:
        """Move simulated time on by a frame (or ``seconds``) and redraw."""
        if self.simulation.closed:
            return
        self.t += (1 / FRAME_RATE) * self.speed if seconds is None else seconds
        self.simulation.step_until(self.t)
        self.refresh_screen()

    # -- the buttons -----------------------------------------------------------------------------
    def action_button(self, name: str) -> None:
        if name not in self.simulation.hw.button_pins:
            self.notify(f"the table has no {name} button")
            return
        self.simulation.press(name)
        self.simulation.press(name, False)

    def action_next_user(self) -> None:
        """`select` held past the long press: the next user (only at home)."""
        if "select" not in self.simulation.hw.button_pins:
            self.notify("the table has no select button")
            return
        self.simulation.hold("select", LONG_PRESS + 0.1)

    def action_hold(self, name: str) -> None:
        if name in self.held:
            self.held.discard(name)
            self.simulation.press(name, False)
        else:
            self.held.add(name)
            self.simulation.press(name)

    def action_release_all(self) -> None:
        for name in sorted(self.held):
            self.simulation.press(name, False)
        self.held.clear()

    # -- the screen ------------------------------------------------------------------------------
    def refresh_screen(self) -> None:
        if self.simulation.closed or not self.query("#table"):
            return  # the app is closing (a frame timer can fire while the widgets go away)
        c = self.simulation.controller.state
        angle = c.estimate.angle if c.estimate is not None else None
        table = self.query_one("#table", Static)
        size = table.content_size
        fits = dict(width=size.width, height=size.height) if size.width >= 9 and size.height >= 5 else {}
        table.update(Text(drawing(self.simulation.hw.table.angle(), **fits), no_wrap=True, overflow="crop"))
        for record in self.events:
            if record.get("event") == "session" and record.get("action") == "start":
                self.session_start = record["t"]
                self._session_started(record.get("preset"))
            elif record.get("event") in ("trip", "home") or (record.get("event") == "session"
                                                             and record.get("action") == "complete") or (
                    record.get("event") == "button" and record.get("name") == "stop"):
                self.session_start = None  # the session is over: the bar stays where it was
            if record.get("event") not in ("indicate", "limits"):
                self.query_one("#log", RichLog).write(describe_event(record))
        self.events.clear()
        m = c.machine
        lines = [
            f"time       {format_duration(round(self.simulation.now(), 1))}",
            f"state      {m.state}" + (f" ({m.trip})" if m.trip else ""),
            f"angle      {angle:+.1f}°" if angle is not None else "angle      (reading the sensor)",
            f"head-down  {format_duration(round(c.head_down))} of {format_duration(c.limits.session_timeout)}",
            f"preset     {c.presets[c.selected].name} ({c.selected + 1} of {len(c.presets)})" if c.presets
            else "preset     none",
            f"user       {c.user or 'guest'}",
            f"held       {', '.join(sorted(self.held)) or '-'}",
        ]
        leds = self.simulation.hw.indicators.playing()
        lines.append(f"LED        {leds.get('led', '-')}   buzzer {leds.get('buzzer', '-')}")
        if c.auto_return_in is not None and c.auto_return_in <= 10:
            lines.append(f"returning home by itself in {c.auto_return_in:.0f} s")
        self.query_one("#state", Static).update(Text("\n".join(lines)))
        progress = self.query_one("#progress", ProgressBar)
        if self.session_start is not None and self.expected:
            progress.update(progress=min(self.expected, self.simulation.now() - self.session_start))

    def _session_started(self, name: str | None) -> None:
        """The progress bar follows the session that started: the one given, or the preset's."""
        expected = self._given_expected
        if expected is None:
            from controller.core import session

            c = self.simulation.controller.state
            preset = next((p for p in c.presets if p.name == name), None)
            if preset is not None:
                expected = session.time_above(preset.program, c.limits.home_angle)[1]
        self.expected = expected
        if expected:
            self.query_one("#progress", ProgressBar).update(total=expected, progress=0)

    def on_unmount(self) -> None:
        self.simulation.close()
