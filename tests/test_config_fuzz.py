"""Fuzzed config files: whatever a user writes, the answer is a Config or one clear ConfigError.

The documents are built from the real section and key names (and near-misses of them), with values
of every TOML type, so most of them get past the TOML parser and exercise the model's checks.
"""

from __future__ import annotations

import json
import math
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from controller.setup.config import Config, load_config
from controller.errors import ConfigError
from controller.setup.validation import _models_in
from tests.conftest import check_lines

SECTIONS = {name: sorted((f.alias or k) for model in _models_in(field.annotation) for k, f in model.model_fields.items())
            for name, field in Config.model_fields.items()}


def _typo(word: str) -> st.SearchStrategy[str]:
    return st.integers(0, max(0, len(word) - 1)).map(lambda i: word[:i] + word[i + 1:] + word[i:i + 1])


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # TOML has no lone surrogates
scalars = st.one_of(
    st.integers(-10**6, 10**6),
    st.sampled_from([10**309, -10**309, 10**400, 2**1100]),  # beyond any float
    st.sampled_from([0, 1, 4, 17, 27, 28, 0x68, 0x69, 0x70, -60, 90, 91]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    text,
    st.sampled_from(["20m", "1m30s", "0.3s", "+x", "-z", "lgpio", "gentle", "90 s", "-5s", ""]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(text, scalars, max_size=2))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are valid in TOML basic strings
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


@st.composite
def documents(draw) -> str:
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in draw(st.dictionaries(text, scalars, max_size=1)).items()]
    names = draw(st.lists(st.one_of(st.sampled_from(sorted(SECTIONS)), st.sampled_from(sorted(SECTIONS)).flatmap(_typo)),
                          max_size=5, unique=True))
    for section in names:
        lines.append(f"[{section}]")
        known = SECTIONS.get(section, ["x"])
        keys = draw(st.lists(st.one_of(st.sampled_from(known), st.sampled_from(known).flatmap(_typo)),
                             max_size=4, unique=True))
        for key in keys:
            lines.append(f"{json.dumps(key)} = {_toml_value(draw(values))}")
    return "\n".join(lines) + "\n"


FUZZ = settings(max_examples=int(os.environ.get("INVERSION_TABLE_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=documents())
def test_any_document_gives_a_config_or_a_clear_error(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(str(path))
    except ConfigError as exc:
        msg = str(exc)
        check_lines(msg, str(path))
        assert exc.__cause__ is None and exc.__suppress_context__  # no chained traceback
        for line in msg.splitlines():
            body = line.removeprefix(f"{path}: ")
            # every problem names its section and key (or the unknown table or key itself)
            assert body.startswith(("[", "users", "unknown table", "unknown key '", "not valid TOML")), line
    else:
        assert isinstance(config, Config)


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_a_config_or_a_clear_error(tmp_path, data):
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    try:
        load_config(str(path))
    except ConfigError as exc:
        check_lines(str(exc), str(path))
