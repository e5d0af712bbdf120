"""`simulate --interactive`: the simulated table in a terminal (Textual); keys are its buttons."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, ProgressBar, RichLog, Static

from controller import simulate as sim
from controller.state import LONG_PRESS
from controller.status import describe_event
from controller.validation import format_duration

FRAME_RATE = 20  # screen updates per second
DRAWING_WIDTH, DRAWING_HEIGHT = 41, 15
# Hold-to-run buttons: a terminal reports key presses but not releases, so their key toggles the
# hold and space lets go of everything (the screen shows what is held).
HOLD_KEYS = {"u": "up", "d": "down", "h": "return"}


def drawing(angle: float | None, *, width: int = DRAWING_WIDTH, height: int = DRAWING_HEIGHT) -> str:
    """The bed as a line through its pivot at ``angle`` (head-down positive), head marked 'O'."""
    grid = [[" "] * width for _ in range(height)]
    cx, cy = width // 2, height // 2
    for x in range(width):
        grid[height - 1][x] = "_"
    for y in range(cy + 1, height - 1):
        grid[y][cx] = "|"  # the stand
    if angle is None:
        return "\n".join("".join(row) for row in grid)
    a = math.radians(angle)
    half = width // 2 - 2
    for i in range(-half, half + 1):
        # x grows toward the head; head-down tilts the head end down (screen y grows downward).
        x = cx + round(i * math.cos(a))
        y = cy + round(i * math.sin(a) * 0.5)  # terminal cells are about twice as tall as wide
        if 0 <= x < width and 0 <= y < height:
            grid[y][x] = "="
    hx, hy = cx + round(half * math.cos(a)), cy + round(half * math.sin(a) * 0.5)
    if 0 <= hx < width and 0 <= hy < height:
        grid[hy][hx] = "O"  # the head
    grid[cy][cx] = "+"
    return "\n".join("".join(row) for row in grid)


class SimulatorApp(App):
    """The real controller on the simulated table, advanced on the app's clock at ``speed`` x real time."""

    CSS = """
    #table { width: 45; height: 17; border: round $accent; }
    #status { width: 1fr; height: 17; border: round $accent; padding: 0 1; }
    #log { height: 1fr; border: round $accent; }
    """
    BINDINGS = [
        Binding("s", "button('stop')", "stop"),
        Binding("r", "button('reset')", "reset"),
        Binding("g", "button('start')", "start"),
        Binding("h", "hold('return')", "return (hold)"),
        Binding("u", "hold('up')", "up (hold)"),
        Binding("d", "hold('down')", "down (hold)"),
        Binding("space", "release_all", "let go"),
        Binding("p", "button('select')", "select"),
        Binding("P", "next_user", "user"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, simulation: sim.Simulation, *, speed: float = 1.0, expected: float | None = None) -> None:
        super().__init__()
        self.simulation, self.speed, self.expected = simulation, speed, expected
        self.t = 0.0  # simulated seconds shown so far
        self.held: set[str] = set()
        self.session_start: float | None = None
        self.events: list[dict] = []
        simulation.on_event = self.events.append

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal():
            yield Static(id="table")
            with Vertical(id="status"):
                yield Static(id="state")
                yield ProgressBar(id="progress", total=self.expected or 100, show_eta=False)
        yield RichLog(id="log", max_lines=200)
        yield Footer()

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
        c = self.simulation.controller
        angle = c.estimate.angle if c.estimate is not None else None
        self.query_one("#table", Static).update(drawing(self.simulation.hw.table.angle()))
        for record in self.events:
            if record.get("event") == "session" and record.get("action") == "start":
                self.session_start = record["t"]
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

    def on_unmount(self) -> None:
        self.simulation.close()
