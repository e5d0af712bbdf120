"""TOML text read safely: what tomllib would crash on, or take minutes over, is a one-line error.

tomllib itself raises a plain ValueError on an integer of more than 4300 digits (Python's limit on
turning text into an int), a RecursionError on arrays or inline tables nested a thousand deep, and
takes time quadratic in the number of parts of a dotted key (``a.a.a...``: 20 s for 64 KiB of it).
"""

from __future__ import annotations

import re
import sys
import tomllib
from typing import Any

MAX_BYTES = 64 * 1024  # a file's size: the commented example config is 4.5 KiB
MAX_KEY_PARTS = 16  # parts of a dotted key or table name; the files use 2 (``[[steps.steps]]``)
_STAND_IN = 10**60  # stands in for an integer too long to read, so the model names its key

_BARE = r"[A-Za-z0-9_-]"
# Possessive runs and a boundary before the first part: one pass over the text, whatever it holds.
_DEEP_KEY = re.compile(rf"""(?<![A-Za-z0-9_\-"'])(?:(?:{_BARE}++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){{{MAX_KEY_PARTS},}}""")
_INTEGER = re.compile(r"(?<![\w.+-])([+-]?+)(\d[\d_]*+)(?![\w.])")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def loads(text: str, *, source: str, error_cls: type[Exception]) -> tuple[dict[str, Any], dict[int, int]]:
    """(the data in ``text``, {stand-in: digits} for each integer too long to read); else ``error_cls``.

    An integer of more than 4300 digits is read as a stand-in (a number of 61 digits, beyond every
    limit), so the model's check names its key and limit; the second value says how long it was.
    """
    if len(text) > MAX_BYTES:
        raise error_cls(f"{source}: {len(text)} characters, more than the {MAX_BYTES // 1024} KiB a file may hold") from None
    if deep := _DEEP_KEY.search(text):
        raise error_cls(f"{source}: not valid TOML: line {_line_of(text, deep.start())}: a key of more than "
                        f"{MAX_KEY_PARTS} dotted parts") from None
    long_ints: dict[int, int] = {}
    try:
        try:
            return tomllib.loads(text), long_ints
        except tomllib.TOMLDecodeError:
            raise
        except ValueError:  # an integer too long for int(); nothing else in tomllib raises a bare one
            return tomllib.loads(_stand_ins(text, long_ints)), long_ints
    except tomllib.TOMLDecodeError as e:
        raise error_cls(f"{source}: not valid TOML: {e}") from None
    except RecursionError:
        depths = [line.count("[") + line.count("{") for line in text.splitlines()]
        line = depths.index(max(depths)) + 1
        raise error_cls(f"{source}: not valid TOML: line {line}: arrays or tables nested too deeply") from None
    except ValueError:
        raise error_cls(f"{source}: not valid TOML: a number too long to read") from None


def _stand_ins(text: str, long_ints: dict[int, int]) -> str:
    """``text`` with each integer too long to read replaced by a stand-in, recorded in ``long_ints``."""
    limit = sys.get_int_max_str_digits() or sys.maxsize

    def swap(m: re.Match) -> str:
        digits = len(m[2]) - m[2].count("_")
        if digits <= limit:
            return m[0]
        stand_in = _STAND_IN + len(long_ints)
        long_ints[stand_in] = digits
        return f"{m[1]}{stand_in}"

    return _INTEGER.sub(swap, text)
