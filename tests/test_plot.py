"""Plots of a simulated trace and of the history (matplotlib, drawn to files)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from controller.commands.cli import main  # noqa: E402

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


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "run.jsonl"
    assert main(["simulate", "gentle", "--fast", "--log", str(path), "--until", "20"]) == 4
    return path


def test_a_directory_as_the_output_gets_the_picture_inside_it_under_the_name_reported(tmp_path, trace, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    capsys.readouterr()
    assert main(["plot", str(trace), "-o", str(folder)]) == 0
    out = capsys.readouterr().out
    assert (folder / "run.png").read_bytes().startswith(PNG) and f"{folder / 'run.png'}: " in out
    assert not (tmp_path / "pictures.png").exists()


def test_an_output_without_an_extension_is_a_png_named_as_reported(tmp_path, trace, capsys):
    capsys.readouterr()
    assert main(["plot", str(trace), "-o", str(tmp_path / "name")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "name.png").read_bytes().startswith(PNG)
    assert out.startswith(f"{tmp_path / 'name.png'}: ")


def test_the_history_plot_into_a_directory_says_where_it_went(tmp_path, capsys):
    history, folder = tmp_path / "h.sqlite", tmp_path / "pictures"
    folder.mkdir()
    main(["simulate", "gentle", "--fast", "--history", str(history), "--until", "10"])
    capsys.readouterr()
    assert main(["history", "--history", str(history), "--plot", str(folder)]) == 0
    assert f"{folder / 'history.png'}: 1 session(s) drawn" in capsys.readouterr().out
    assert (folder / "history.png").read_bytes().startswith(PNG) and not (tmp_path / "pictures.png").exists()


def test_a_trace_cut_off_mid_line_is_drawn_up_to_its_last_whole_line(tmp_path, trace, capsys):
    text = trace.read_text(encoding="utf-8")
    whole = text.count("\n")
    cut = tmp_path / "killed.jsonl"
    cut.write_text(text + '{"t": 20.02, "angle": 1', encoding="utf-8")  # a run killed mid-write
    capsys.readouterr()
    assert main(["plot", str(cut), "-o", str(tmp_path / "killed.png")]) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "killed.png").read_bytes().startswith(PNG)
    assert f"line {whole + 1} (the last) is incomplete" in captured.err and "Traceback" not in captured.err
    samples = sum(1 for line in text.splitlines() if '"event"' not in line)
    assert f"{samples} samples drawn" in captured.out


def test_a_broken_line_that_is_not_the_last_is_still_refused(tmp_path, trace, capsys):
    lines = trace.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines[:5] + ['{"t": 1\n'] + lines[5:]), encoding="utf-8")
    assert main(["plot", str(bad), "-o", str(tmp_path / "bad.png")]) == 2
    assert "line 6: not a JSON Lines trace" in capsys.readouterr().err


def test_without_matplotlib_the_hint_installs_from_a_clone(tmp_path, trace, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert main(["plot", str(trace), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "plotting needs matplotlib: pip install -e '.[plot]'" in err and "inversion-table[plot]" not in err
