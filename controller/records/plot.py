"""`inversion-table plot` and `history --plot`: pictures of a session and of progress (matplotlib)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from controller.errors import InputError
from controller.setup.validation import read_user_file

# Events drawn as marks on the time axis, and how.
BUTTON_COLOURS = {"stop": "tab:red", "reset": "tab:purple", "start": "tab:green", "return": "tab:blue",
                  "up": "tab:gray", "down": "tab:gray", "select": "tab:olive"}
OUTCOME_COLOURS = {"completed": "tab:green", "stopped": "tab:orange", "returned": "tab:blue", "timeout": "tab:purple"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install -e '.[plot]' in a clone of this repository "
                         "(or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only: no screen needed
    import matplotlib.pyplot as plt

    return plt


@dataclass(frozen=True)
class Drawn:
    path: Path  # the file written (what to tell the user)
    count: int  # samples or sessions drawn
    notes: tuple[str, ...] = ()  # what the user should know about the input (a cut-off last line)


def output_path(out: str, name: str) -> Path:
    """The file a picture goes to: ``out``, or ``out/NAME.png`` if it is a folder, with ``.png``
    added if it has no extension (as matplotlib would, so the name reported is the one written)."""
    path = Path(out)
    if path.is_dir():
        return path / f"{name}.png"
    if not path.suffix:
        return path.with_name(path.name + ".png")
    return path


def _read(path: str) -> tuple[list[dict], tuple[str, ...]]:
    """The trace's records, and notes; a last line cut off mid-write (a killed run) is left out."""
    raw = read_user_file(path, what="trace", error_cls=InputError, hint="write one with simulate --log FILE")
    try:
        lines = raw.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a JSON Lines trace: the file is not UTF-8 text") from None
    records, notes = [], []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                if number == len(lines) and not line.endswith("\n"):  # the writer never finished it
                    notes.append(f"{path}: line {number} (the last) is incomplete, as when a run is killed "
                                 f"mid-write: drew the {number - 1} whole lines before it")
                    break
                raise InputError(f"{path}: line {number}: not a JSON Lines trace ({e.msg})") from None
    return records, tuple(notes)


def plot_trace(path: str, out: str, *, title: str | None = None) -> Drawn:
    """Angle (true and estimated), target, limits and events against time, to ``output_path(out)``."""
    records, notes = _read(path)
    samples = [r for r in records if "event" not in r and "angle" in r]
    if not samples:
        raise InputError(f"{path}: no samples in this trace")
    events = [r for r in records if "event" in r]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.8), layout="constrained")
    t = [s["t"] for s in samples]
    if any("true_angle" in s for s in samples):
        ax.plot(t, [s.get("true_angle") for s in samples], color="black", lw=1.6, label="true angle (simulator)")
    ax.plot(t, [s["angle"] for s in samples], color="tab:blue", lw=1.0, alpha=0.8, label="estimated angle")
    ax.plot(t, [s["target"] for s in samples], color="tab:orange", lw=1.0, ls="--", label="target")
    limits = next((e for e in events if e["event"] == "limits"), None)
    if limits is not None:
        ax.axhline(limits["max_angle"], color="tab:red", ls=":", lw=1.2, label=f"max_angle {limits['max_angle']:g}°")
        ax.axhline(limits["home_angle"], color="tab:gray", ls=":", lw=1.2, label=f"home {limits['home_angle']:g}°")
    ax.axhline(0, color="tab:gray", lw=0.5)
    _shade_latches(ax, samples)
    top = ax.get_ylim()[1]
    for e in events:
        if e["event"] == "button" and e.get("action") == "press":
            ax.axvline(e["t"], color=BUTTON_COLOURS.get(e["name"], "gray"), lw=0.8, alpha=0.7)
            ax.annotate(e["name"], (e["t"], top), rotation=90, va="top", ha="right", fontsize=8)
        elif e["event"] in ("trip", "deadman"):
            ax.axvline(e["t"], color="tab:red", lw=1.5)
            ax.annotate(f"trip: {e['reason']}", (e["t"], top), rotation=90, va="top", ha="left", fontsize=8,
                        color="tab:red")
        elif e["event"] == "return" and e.get("reason") != "button":
            ax.annotate(f"return ({e['reason']})", (e["t"], top), rotation=90, va="top", ha="left", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("angle (°, head-down positive)")
    ax.set_title(title or Path(path).name)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    written = output_path(out, Path(path).stem)
    _save(fig, written)
    return Drawn(written, len(samples), notes)


def _save(fig, out: Path) -> None:
    import matplotlib.pyplot as plt

    try:
        fig.savefig(out, dpi=110)
    except ValueError as e:  # matplotlib's "Format 'xyz' is not supported"
        raise InputError(f"{out}: {e}; use .png, .svg or .pdf") from None
    except OSError as e:
        raise InputError(f"{out}: cannot write the picture: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def _shade_latches(ax, samples: list[dict]) -> None:
    """Stopped and tripped stretches as coloured bands."""
    colours = {"stopped": "tab:orange", "tripped": "tab:red"}
    start = None
    for prev, s in zip(samples, samples[1:] + [None]):
        state = prev["state"]
        if state in colours and start is None:
            start = prev["t"]
        if start is not None and (s is None or s["state"] != state):
            ax.axvspan(start, prev["t"], color=colours[state], alpha=0.12, lw=0)
            start = None


def plot_history(sessions: list, out: str, *, title: str) -> Drawn:
    """Each session's highest angle and time head-down, coloured by how it ended, to ``output_path(out)``."""
    if not sessions:
        raise InputError("no sessions to plot")
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, layout="constrained")
    numbers = list(range(1, len(sessions) + 1))
    colours = [OUTCOME_COLOURS.get(s.outcome, "tab:red") for s in sessions]
    top.bar(numbers, [s.max_angle or 0 for s in sessions], color=colours)
    top.set_ylabel("highest angle (°)")
    bottom.bar(numbers, [s.head_down / 60 for s in sessions], color=colours)
    bottom.set_ylabel("head-down (min)")
    bottom.set_xlabel("session")
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=outcome) for outcome, colour in OUTCOME_COLOURS.items()]
    handles.append(Patch(color="tab:red", label="trip or cut short"))
    top.legend(handles=handles, fontsize=8, ncols=5, loc="upper left")
    top.set_title(title)
    written = output_path(out, "history")
    _save(fig, written)
    return Drawn(written, len(sessions))
