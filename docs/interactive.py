"""Regenerate docs/interactive.svg and docs/interactive.png: the interactive simulator as a newcomer
meets it, in an 80 x 24 terminal, with `simulate hold-40 --interactive` 40 s in (about 39° head-down).

    python docs/interactive.py

The SVG is Textual's own screenshot of the app; the PNG is converted from it with rsvg-convert
(Debian: apt-get install librsvg2-bin). tests/test_tui.py checks that the SVG shows what the app
shows now.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZE = (80, 24)  # columns, rows
AT = 40.0  # simulated seconds into the session
PNG_WIDTH = 1000  # px


async def _screenshot() -> str:
    from controller.shell import simulate as sim
    from controller.setup.config import Config
    from controller.setup.preflight import prepare_profile
    from controller.core.session import Preset
    from controller.shell.tui import SimulatorApp

    config = Config()
    prepared = prepare_profile("hold-40", config)
    run = sim.Simulation(config, presets=[Preset(prepared.profile.name, prepared.program)],
                         presses=[sim.Press(0.0, "start")])  # as `simulate hold-40 --interactive` does
    app = SimulatorApp(run, speed=1e-9, expected=prepared.duration)  # time moves only by advance() here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.advance(AT)
        await pilot.pause()
        return app.export_screenshot(title="inversion-table simulate hold-40 --interactive")


def screenshot() -> str:
    """The app's screen as an SVG (Textual's screenshot)."""
    return asyncio.run(_screenshot())


def screen_text(svg: str) -> list[str]:
    """The characters on the screen, row by row, from a Textual SVG screenshot."""
    cell = float(re.search(r'<text class="[^"]*-r\d+" x="[\d.]+" y="[\d.]+" textLength="([\d.]+)"[^>]*>([^<]*)<',
                           svg).group(1))  # the first cell's width: a screen starts with a one-cell glyph
    rows: dict[float, dict[int, str]] = {}
    for x, y, text in re.findall(r'<text class="[^"]*-r\d+" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        column = round(float(x) / cell)
        for i, char in enumerate(text.replace("&#160;", " ").replace("&amp;", "&").replace("&lt;", "<")):
            rows.setdefault(float(y), {})[column + i] = char
    return ["".join(row.get(c, " ") for c in range(max(row) + 1)).rstrip() for _, row in sorted(rows.items())]


def main() -> None:
    svg = screenshot()
    # rsvg drops leading non-breaking spaces unless told to keep white space as it is
    svg = svg.replace('<svg class="rich-terminal"', '<svg xml:space="preserve" class="rich-terminal"', 1)
    (HERE / "interactive.svg").write_text(svg, encoding="utf-8")
    converter = shutil.which("rsvg-convert")
    if converter is None:
        sys.exit("wrote docs/interactive.svg; the PNG needs rsvg-convert (apt-get install librsvg2-bin)")
    subprocess.run([converter, "-w", str(PNG_WIDTH), str(HERE / "interactive.svg"), "-o", str(HERE / "interactive.png")],
                   check=True)
    print("wrote docs/interactive.svg and docs/interactive.png")


if __name__ == "__main__":
    main()
