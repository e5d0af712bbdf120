"""Shared input validation: durations, strict TOML models, and one-line-per-problem error messages.

How a message names a field (chosen for someone editing the TOML file): a key in a table as the
file writes it, ``[limits] max_angle``; a top-level key by its name, ``max_speed``; an entry of an
array of tables counted from 1, as a person counts the ``[[steps]]`` blocks, with its kind when
known: ``steps #2 (oscillate) high`` is the key ``high`` in the second ``[[steps]]`` block.

Every line of a message starts with the file (or source label) it is about, so the first line
stands alone; when there are several problems it ends with ``(and N more problems)``.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from controller.setup import tomltext

DURATION_ERROR = 'not a duration: use seconds (90) or a text like "90s", "2m", "1m30s"'

TOO_LARGE = "too large"  # a number no float holds; a message shows the field's limit instead

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN_RE = re.compile(_NUM)
# Matched against the stripped text. Whitespace follows a unit only, so no two optional runs of
# it meet: a regex like \s*(...)?\s*(...)?\s* backtracks for minutes over a few hundred spaces.
_DURATION_RE = re.compile(rf"(?:(?P<h>{_NUM})\s*h\s*)?(?:(?P<m>{_NUM})\s*m\s*)?(?:(?P<s>{_NUM})\s*s)?", re.IGNORECASE)
MAX_SHOWN = 40  # characters of a value or key quoted in a message; a longer one is cut short

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every file model: frozen, unknown keys rejected, no silent type coercion, no NaN."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


@dataclass(frozen=True)
class LimitNote:
    """Annotated metadata saying why a bound exists, shown after it: ``LimitNote(le="the hard ceiling")``."""

    ge: str | None = None
    gt: str | None = None
    le: str | None = None
    lt: str | None = None


_DURATION_MARK = object()  # in a Duration field's metadata, so messages show bounds as "2h", not 7200


def problem(message: str) -> PydanticCustomError:
    """An error for a model validator to raise; one problem per line of ``message``."""
    return PydanticCustomError("problem", message)  # no context given, so braces are kept as written


def parse_duration(value: Any) -> float:
    """Seconds from 90, 90.5, "90", "90s", "2m", "1m30s", "1h 5m", "1.5m"; else a ValueError (DURATION_ERROR).

    A finite number too large for a float (an int of 400 digits, "1e999" written out in digits) is
    a ValueError of type ``too_large``, which a message shows as the field's upper limit."""
    seconds: float | None = None
    if isinstance(value, float):
        seconds = value if math.isfinite(value) else None
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = math.inf if value > sys.float_info.max else float(max(value, -1))
    elif isinstance(value, str):
        text = value.strip()
        if _PLAIN_RE.fullmatch(text):
            seconds = float(text)
        elif (m := _DURATION_RE.fullmatch(text)) and any(m.group(k) for k in "hms"):
            seconds = sum(float(m.group(k) or 0) * f for k, f in (("h", 3600), ("m", 60), ("s", 1)))
    if seconds is None or math.isnan(seconds) or seconds < 0:
        raise PydanticCustomError("duration", DURATION_ERROR)
    if seconds == math.inf:  # written as a finite number, but beyond any float and any limit
        raise PydanticCustomError("too_large", TOO_LARGE)
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration), _DURATION_MARK]
"""A time span in seconds, written as a number of seconds or as a text like "1m30s"."""


def format_duration(seconds: float) -> str:
    """"1m30s", "20m", "45s", "1h2m", "2.5s": the inverse of Duration, to the millisecond."""
    if not math.isfinite(seconds):
        return f"{seconds}s"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    h, ms = divmod(round(seconds * 1000), 3_600_000)
    m, ms = divmod(ms, 60_000)
    parts = [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m)
    if ms or not parts:
        parts.append(f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s")
    return "".join(parts)


def fmt_number(value: float) -> str:
    """A number as a person writes it: 60 rather than 60.0, 3.5 stays 3.5."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def item_label(key: str, index: int, kind: str | None = None) -> str:
    """The name of the ``index``-th (0-based) entry of an array of tables: ``steps #2 (oscillate)``."""
    return f"{key} #{index + 1}" + (f" ({kind})" if kind else "")


def join_problems(lines: list[str]) -> str:
    """One message from problem lines: the first stands alone and says how many more follow."""
    if len(lines) <= 1:
        return "".join(lines)
    more = len(lines) - 1
    return f"{lines[0]} (and {more} more problem{'s' * (more != 1)})\n" + "\n".join(lines[1:])


def read_user_file(path: str | Path, *, what: str, error_cls: type[Exception], limit: int | None = None,
                   hint: str = "") -> bytes:
    """A file a user named, as bytes (at most ``limit`` + 1 of them: not all of /dev/zero, or a file
    given by mistake); a missing, unreadable or wrong kind of file is ``error_cls`` naming it."""
    also = f" ({hint})" if hint else ""
    try:
        with open(path, "rb") as f:
            return f.read() if limit is None else f.read(limit + 1)
    except FileNotFoundError:
        raise error_cls(f"{path}: no such {what} file{also}") from None
    except IsADirectoryError:
        raise error_cls(f"{path}: is a directory, not a {what} file{also}") from None
    except (OSError, ValueError) as e:
        raise error_cls(f"{path}: cannot read the {what} file: {getattr(e, 'strerror', None) or e}") from None


def load_toml_model(path: str | Path, model_cls: type[M], *, error_cls: type[Exception], what: str) -> M:
    """Read a TOML file and validate it as ``model_cls``; every failure is ``error_cls`` with a clear message."""
    raw = read_user_file(path, what=what, error_cls=error_cls, limit=tomltext.MAX_BYTES)
    if len(raw) > tomltext.MAX_BYTES:
        raise error_cls(f"{path}: more than {tomltext.MAX_BYTES // 1024} KiB, too large for a {what} file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error_cls(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    return validate_toml_text(text, model_cls, error_cls=error_cls, source=str(path))


def validate_toml_text(text: str, model_cls: type[M], *, error_cls: type[Exception], source: str) -> M:
    """Parse TOML text and validate it as ``model_cls``; ``source`` starts every line of an error."""
    data, long_ints = tomltext.loads(text, source=source, error_cls=error_cls)
    try:
        model = model_cls.model_validate(data)
    except ValidationError as e:
        errors = _drop_typo_echoes(e.errors(), data, model_cls)
        errors.sort(key=lambda err: err["type"] != "extra_forbidden")  # a typo first: it explains the rest
        lines = [line for err in errors for line in _problem_lines(err, data, model_cls, source, long_ints)]
        raise error_cls(join_problems(lines)) from None
    if long_ints:  # read as a stand-in, which every limit refuses: never a value to run with
        raise error_cls(f"{source}: a number of {max(long_ints.values())} digits, too long to be any setting") from None
    return model


# --- turning pydantic errors into lines ------------------------------------------------------

_MISSING = object()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation can hold, through list/Optional/Union/Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _is_list(annotation: Any) -> bool:
    """Whether an annotation is a list, through Optional and Annotated."""
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation) if arg is not type(None))


def _tags(model: type[BaseModel]) -> set[Any]:
    """The single-valued Literal fields of a model: its possible discriminator tags."""
    return {get_args(f.annotation)[0] for f in model.model_fields.values()
            if get_origin(f.annotation) is Literal and len(get_args(f.annotation)) == 1}


def _metadata(field: FieldInfo) -> list[Any]:
    """Every constraint and marker of a field, including those nested in Optional[Annotated[...]]."""
    found = list(field.metadata)
    todo = [field.annotation]
    while todo:
        ann = todo.pop()
        for meta in getattr(ann, "__metadata__", ()):
            found.extend(meta.metadata if isinstance(meta, FieldInfo) else [meta])
        todo.extend(get_args(ann))
    return found


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key a file writes: the alias where there is one ("return")."""
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _walk(loc: tuple, data: Any, model_cls: type[BaseModel]):
    """Follow ``loc`` through the raw data and the models: (label, raw value, models there, field)."""
    pieces: list[str] = []
    node, models, field = data, [model_cls], None
    for i, part in enumerate(loc):
        field = None
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else _MISSING
            pieces[-1] = item_label(pieces[-1], part)
            continue
        owners = [m for m in models if part in _fields(m)]
        if not owners and i > 0 and isinstance(loc[i - 1], int):
            # a discriminator tag, e.g. the 'oscillate' in ('steps', 1, 'oscillate', 'high')
            models = [m for m in models if part in _tags(m)] or models
            pieces[-1] += f" ({part})"
            continue
        field = _fields(owners[0])[part] if owners else None
        ann = field.annotation if field is not None else None
        is_table = i == 0 and not _is_list(ann) and bool(_models_in(ann))
        pieces.append(f"[{part}]" if is_table else part)
        models = _models_in(ann)
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
    return " ".join(pieces), node, models, field


def _close(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _drop_typo_echoes(errors: list, data: Any, model_cls: type[BaseModel]) -> list:
    """Without the "missing 'angle'" errors that an unknown key 'anlge' next to them already explains."""
    typos = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            models = _walk(err["loc"][:-1], data, model_cls)[2]
            fix = _close(str(err["loc"][-1]), sorted({k for m in models for k in _fields(m)}))
            typos.add((tuple(err["loc"][:-1]), fix))
    return [err for err in errors
            if not (err["type"] == "missing" and (tuple(err["loc"][:-1]), err["loc"][-1]) in typos)]


def _cut(text: str) -> str:
    """``text``, or its start and "...", so that a message stays one readable line."""
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _printable(word: str) -> str:
    """A key as written, or escaped if it holds characters that would break or hide in a message."""
    return _cut(word if word.isprintable() else repr(word)[1:-1])


class _Described(str):
    """A value that a message describes in words rather than quotes ("a number of 5000 digits")."""


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut short when long; a huge number by its size."""
    if isinstance(value, _Described):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_SHOWN:
        try:
            return f"a{' negative' * (value < 0)} number of {len(str(abs(value)))} digits"
        except ValueError:  # beyond what Python turns into text
            return "a number of thousands of digits"
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        start = repr(value[:MAX_SHOWN])
        return f"{start[:-1]}...{start[-1]} ({len(value)} characters)"
    return _cut(repr(value))


def _suggest(word: str, choices: list[str], quote: str = "'") -> str:
    close = _close(word, choices)
    return f" (did you mean {quote}{close}{quote}?)" if close else ""


def _sections_with(key: str, models: list) -> list[str]:
    """The tables of ``models`` that have an option ``key``: where a key written at the top belongs."""
    return [f"[{name}]" for model in models for name, field in model.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
            and key in field.annotation.model_fields]


_OPS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", "≥"),
        "less_than": ("lt", "<"), "less_than_equal": ("le", "≤")}


def _beyond_float(err: dict, value: Any) -> bool:
    """Whether ``err`` is about a number too large for a float (a huge int in a float field)."""
    huge_int = isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max
    return err["type"] == "too_large" or (err["type"] == "float_type" and huge_int)


def _limit_passed(value: Any, field: FieldInfo | None) -> str:
    """The bound that a number too large for a float breaks: "must be ≤ 5m"; "too large" without one."""
    sides = ("less_than_equal", "less_than") if not isinstance(value, int) or value > 0 else (
        "greater_than_equal", "greater_than")
    for meta in _metadata(field) if field is not None else []:
        for kind in sides:
            key = _OPS[kind][0]
            limit = getattr(meta, key, None)
            if isinstance(limit, (int, float)) and not isinstance(meta, LimitNote):
                return _bound({"type": kind, "ctx": {key: limit}}, field) or TOO_LARGE
    return TOO_LARGE


def _bound(err: dict, field: FieldInfo | None) -> str | None:
    """"must be ≤ 90 (the hard ceiling)" for a broken bound; None if ``err`` is not one."""
    if err["type"] not in _OPS:
        return None
    key, sign = _OPS[err["type"]]
    limit = err["ctx"][key]
    meta = _metadata(field) if field is not None else []
    shown = format_duration(limit) if _DURATION_MARK in meta else fmt_number(limit)
    notes = [getattr(m, key) for m in meta if isinstance(m, LimitNote) and getattr(m, key)]
    return f"must be {sign} {shown}" + (f" ({notes[0]})" if notes else "")


_SHORT = {
    **dict.fromkeys(("float_type", "float_parsing"), "must be a number"),
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "must be a whole number"),
    **dict.fromkeys(("model_type", "dict_type", "model_attributes_type"), "must be a table"),
    "string_type": "must be text in quotes",
    "finite_number": "must be a finite number",
    "list_type": "must be a list",
    "missing": "missing (this key is required)",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
}


def _short(err: dict) -> str:
    """A short message for common pydantic errors; otherwise pydantic's own, lightly trimmed."""
    ctx = err.get("ctx") or {}
    if err["type"] in ("too_short", "string_too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if err["type"] in _SHORT:
        return _SHORT[err["type"]].format(**ctx)
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return "must be " + msg.removeprefix("Input should be ") if msg.startswith("Input should be ") else msg


def _problem_lines(err: dict, data: Any, model_cls: type[BaseModel], source: str,
                   long_ints: dict[int, int] | None = None) -> list[str]:
    """The message lines for one pydantic error: ``{source}: {field}: {what is wrong} (got {value!r})``."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    show_got = True
    if kind == "extra_forbidden":
        label, parent, models, _ = _walk(loc[:-1], data, model_cls)
        key = _printable(str(loc[-1]))
        value = parent.get(loc[-1], _MISSING) if isinstance(parent, dict) else _MISSING
        known = sorted({name for m in models for name in _fields(m)})
        if isinstance(value, dict) and not label:
            tables = [f"[{k}]" for k in known]
            msgs = [f"unknown table [{key}]" + _suggest(f"[{key}]", tables, quote="")]
        else:
            homes = _sections_with(str(loc[-1]), models) if not label else []
            hint = f" (it goes in {' or '.join(homes)})" if homes else _suggest(key, known)
            msgs = [f"unknown key '{key}'" + hint]
        show_got = False
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        label, value, models, _ = _walk(loc, data, model_cls)
        disc = str(ctx.get("discriminator", "kind")).strip("'")
        tags = sorted(str(t) for m in models for t in _tags(m))
        valid = ", ".join(f"'{t}'" for t in tags)
        if kind == "union_tag_invalid":
            tag = _printable(str(ctx.get("tag")))
            msgs = [f"unknown {disc} '{tag}'" + _suggest(tag, tags) + f"; valid {disc}s: {valid}"]
        else:
            msgs = [f"missing key '{disc}' (one of {valid})"]
        show_got = False
    else:
        label, value, _, field = _walk(loc, data, model_cls)
        raw = err.get("input") if value is _MISSING else value
        msgs = [_limit_passed(raw, field) if _beyond_float(err, raw) else _bound(err, field) or _short(err)]
        if kind == "problem":  # from a model validator: already names the fields and values
            msgs, show_got = str(err["msg"]).splitlines() or [""], False
    if value is _MISSING:
        value = err.get("input")
    if isinstance(value, int) and value in (long_ints or {}):  # a stand-in for a number too long to read
        value = _Described(f"a number of {long_ints[value]} digits")
    elif isinstance(value, int) and -value in (long_ints or {}):
        value = _Described(f"a negative number of {long_ints[-value]} digits")
    got = f" (got {shown(value)})" if show_got and kind != "missing" and not isinstance(value, (dict, list)) else ""
    prefix = f"{source}: {label}: " if label else f"{source}: "
    return [f"{prefix}{msg}{got}" for msg in msgs]
