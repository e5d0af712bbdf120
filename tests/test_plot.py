"""Plots of a simulated trace and of the history (matplotlib, drawn to files)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from controller.cli import main  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_simulated_trace_becomes_a_picture(tmp_path, capsys):
    trace, picture = tmp_path / "t.jsonl", tmp_path / "t.png"
    assert main(["simulate", "gentle", "--fast", "--log", str(trace), "--press", "stop@20", "--press", "reset@25",
                 "--press", "return@26"]) == 0
    assert main(["plot", str(trace), "-o", str(picture)]) == 0
    assert f"{picture}: " in capsys.readouterr().out
    data = picture.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000  # a real figure, not an empty canvas
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(picture).shape
    assert (width, height) == (1210, 528)  # 11 x 4.8 in at 110 dpi


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such trace file (write one with simulate --log FILE)"),
     ('{"t": 0}\nnot json\n', "line 2: not a JSON Lines trace"),
     ('{"t": 0, "event": "home"}\n', "no samples in this trace")],
)
def test_a_bad_trace_is_one_clear_message(tmp_path, capsys, content, message):
    trace = tmp_path / "t.jsonl"
    if content is not None:
        trace.write_text(content, encoding="utf-8")
    assert main(["plot", str(trace), "-o", str(tmp_path / "t.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_history_plot_draws_each_session(tmp_path, capsys):
    history, picture = tmp_path / "h.sqlite", tmp_path / "h.png"
    for extra in ([], ["--press", "stop@20"]):
        main(["simulate", "gentle", "--fast", "--history", str(history), *extra])
    assert main(["history", "--history", str(history), "--plot", str(picture)]) == 0
    assert f"{picture}: 2 session(s) drawn" in capsys.readouterr().out
    assert picture.read_bytes().startswith(PNG)


def test_the_readme_shows_a_plot_of_a_simulated_session():
    from pathlib import Path

    root = Path(__file__).parent.parent
    assert "![" in (readme := (root / "README.md").read_text(encoding="utf-8")) and "docs/session.png" in readme
    assert (root / "docs" / "session.png").read_bytes().startswith(PNG)
