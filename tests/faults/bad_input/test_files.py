"""Hostile profiles, configurations and rules as YAML files: errors name the file and field."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from api.alerts.config import DEFAULT_RULES
from api.alerts.rules import RulesError, load_rules
from api.config import ApiConfig
from collector.config import CollectorConfig
from devices.library import ProfileError, load_profile
from devices.modbus.codec import CodecError
from devices.modbus.decoding import encode_point
from devices.modbus.plan import compile_plan
from devices.profile import PROFILE_DIR, Profile
from devices.sim.model import SimConfig
from facmon.config import ConfigError, load_config
from gateway.config import GatewayConfig
from tests.faults.bad_input.corpus import (
    DEEP,
    DEPLOY,
    FILES,
    YAML_FRAGMENTS,
    assert_contract_valid,
    corrupted,
    field_names,
    mutants,
    outcome,
    serialise,
)

# --- 3 and 4. Profiles, configurations and rules as YAML files -------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the files written by the examples (one file per name, rewritten)."""
    return tmp_path_factory.mktemp("bad-input")


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YamlCase = tuple[str, bytes, Any]
"""A file name, the hostile bytes written under it, and the document they hold (or None)."""


@st.composite
def yaml_files(draw: st.DrawFn, source: Path, names: tuple[str, ...]) -> YamlCase:
    """A hostile copy of ``source``: its document mutated and dumped, or its bytes corrupted."""
    original = source.read_bytes()
    if draw(st.booleans()):
        text = serialise(draw(mutants(yaml.safe_load(original), names)), "yaml")
        try:  # as read back: a YAML dump does not keep every character of a key
            return source.name, text, yaml.load(text, _LOADER)
        except (yaml.YAMLError, ValueError, RecursionError):
            return source.name, text, None
    return source.name, draw(corrupted(original, YAML_FRAGMENTS) | st.binary(max_size=200)), None


def written(folder: Path, case: YamlCase) -> Path:
    """Write the case's bytes under its name in ``folder``; return the path."""
    path = folder / case[0]
    path.write_bytes(case[1])
    return path


def assert_names_file_and_field(message: str, path: Path, doc: Any, model: type[BaseModel]) -> None:
    """Every line reads ``file[:line]: ...``; for a mapping, ``file[:line]: field: what``."""
    assert message.strip()
    head = re.escape(str(path))
    for line in message.splitlines():
        assert re.match(rf"{head}(:\d+)?: \S", line), message
    if isinstance(doc, dict) and not DEEP.search(str(doc)):
        known = {*model.model_fields, *map(str, doc), *map(repr, map(str, doc)), "(top level)"}
        for line in message.splitlines():
            field = re.sub(rf"^{head}(:\d+)?: ", "", line)
            assert any(field.startswith((k, f"[{k}]")) for k in known) or "YAML" in field, line


PROFILE_FIELDS = field_names(Profile)
POINT = (
    "name: x\nvendor: v\nmodel: m\ncategory: energy\nmeasurement: x\n"
    "points:\n  - {name: a, table: holding, address: 0, type: float32, "
)
"""The start of a one-point profile; a case adds the point's last keys and ``}``."""
INT16_POINT = POINT.replace("float32", "int16")


@FILES
@given(
    case=st.sampled_from(sorted(PROFILE_DIR.glob("*.yaml"))).flatmap(
        lambda source: yaml_files(source, PROFILE_FIELDS)
    )
)
@example(case=("ups.yaml", b"points: &p [*p]\n", None))
@example(case=("inf.yaml", (INT16_POINT + "offset: .inf}\n").encode(), None))  # ValueError
@example(case=("zero.yaml", (POINT + "scale: 0, access: rw}\n").encode(), None))  # ZeroDivision
@example(case=("tiny.yaml", (INT16_POINT + "scale: 1e-10, access: rw}\n").encode(), None))
def test_mutated_profiles_raise_only_profile_error_naming_file_and_field(
    scratch: Path, case: YamlCase
) -> None:
    path = written(scratch, case)
    profile = outcome(lambda: load_profile(path), ProfileError)
    if isinstance(profile, ProfileError):
        assert_names_file_and_field(str(profile), path, case[2], Profile)
        return
    if profile.protocol != "modbus":
        return
    # what the library accepts, the gateway can decode, and write to
    for request in compile_plan(profile).requests:
        for block in (bytes(range(256)), b"\x7f\x7f\xff\xff" * 64, b"\xff" * 256):
            data = (block * (request.count // 128 + 1))[: 2 * request.count]
            assert_contract_valid(profile, request, *request.decode(data))
    for point in profile.points:
        if point.access == "rw":
            for value in (True, 1, -1.5, 1e300, "on", point.min or 0, point.max or 0):
                outcome(lambda: encode_point(point, value), CodecError)  # noqa: B023 - called now


def test_a_value_scaled_past_the_float_range_is_flagged_bad_and_its_neighbour_kept(
    scratch: Path,
) -> None:
    second = "  - {name: b, table: holding, address: 2, type: float32}\n"
    path = written(scratch, ("huge.yaml", (POINT + "scale: 1e300}\n" + second).encode(), None))
    profile = load_profile(path)
    (request,) = compile_plan(profile).requests
    values, quality = request.decode(struct.pack(">ff", 3e38, 1.5))
    assert (values, quality) == ({"b": 1.5}, {"a": "bad"})
    assert_contract_valid(profile, request, values, quality)


CONFIGS: list[tuple[type[BaseModel], Path]] = [
    (GatewayConfig, DEPLOY / "gateway.yaml"),
    (CollectorConfig, DEPLOY / "collector.yaml"),
    (ApiConfig, DEPLOY / "api.yaml"),
    (SimConfig, DEPLOY / "sim.yaml"),
]
YAML_TRAPS = [
    b"site: hq\ngateway: g\nnote: 2024-13-45\n",  # ValueError from the date constructor
    b"site: hq\ngateway: g\nnote: " + b"9" * 5_000 + b"\n",  # ValueError: int of 5,000 digits
    b"site: hq\ngateway: g\nnote: &a [*a]\n",  # RecursionError indexing lines
    b"site: hq\ngateway: g\nnote: " + b"[" * 990 + b"]" * 990 + b"\n",  # RecursionError
    b"a0: &a0 [x, x, x, x, x, x, x, x, x]\n"  # nine levels of nine aliases: 9**9 values
    + b"".join(
        b"a%d: &a%d [%s]\n" % (n, n, b", ".join([b"*a%d" % (n - 1)] * 9)) for n in range(1, 9)
    ),
    b"site: hq\ngateway: g\n'\\x85': 1\n\"\\r\": 2\n",  # keys that break a line
    b"\x00site: hq\n",  # a character YAML refuses
    b"site: !!timestamp x\n",  # AttributeError from the timestamp constructor
    b"site: !!bool x\n",  # KeyError
    b"site: !!int ''\n",  # IndexError
]
YAML_TRAP_NAMES = [
    "bad-date", "huge-int", "self-alias", "deep", "billion-laughs", "line-break-keys", "nul",
    "bad-timestamp", "bad-bool", "empty-int",
]  # fmt: skip


@FILES
@pytest.mark.parametrize(("model", "source"), CONFIGS, ids=[m.__name__ for m, _ in CONFIGS])
@given(data=st.data())
def test_mutated_configs_raise_only_config_error_naming_file_line_and_field(
    scratch: Path, model: type[BaseModel], source: Path, data: st.DataObject
) -> None:
    case = data.draw(yaml_files(source, field_names(model)))
    path = written(scratch, case)
    error = outcome(lambda: load_config(model, path, env={}), ConfigError)
    if isinstance(error, ConfigError):
        assert_names_file_and_field(str(error), path, case[2], model)


@pytest.mark.parametrize("text", YAML_TRAPS, ids=YAML_TRAP_NAMES)
@pytest.mark.parametrize("model", [m for m, _ in CONFIGS], ids=[m.__name__ for m, _ in CONFIGS])
def test_yaml_traps_raise_config_error_naming_the_file(
    scratch: Path, model: type[BaseModel], text: bytes
) -> None:
    path = written(scratch, ("trap.yaml", text, None))
    with pytest.raises(ConfigError) as raised:
        load_config(model, path, env={})
    assert_names_file_and_field(str(raised.value), path, None, model)


@pytest.fixture(scope="module")
def gateway_with_templates(scratch: Path) -> Path:
    """The deployed gateway configuration plus a device template (ids made from unit ids)."""
    doc = yaml.safe_load((DEPLOY / "gateway.yaml").read_bytes())
    doc["templates"] = [
        {"id": "meter-{unit:02d}", "units": "3-5,9", "profile": "ups", "bus": "rs485-1"}
    ]
    path = scratch / "templates" / "gateway.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc))
    load_config(GatewayConfig, path, env={})
    return path


def _template(key: str, value: str) -> YamlCase:
    doc = yaml.safe_load((DEPLOY / "gateway.yaml").read_bytes())
    doc["templates"] = [{"id": "m-{unit}", "units": "1-3", "profile": "ups", "bus": "rs485-1"}]
    doc["templates"][0][key] = value
    return "gateway.yaml", serialise(doc, "yaml"), doc


@FILES
@given(data=st.data())
@example(data=_template("id", "m{unit}{0}"))  # IndexError from str.format
@example(data=_template("id", "m{unit}{x}"))  # KeyError
@example(data=_template("id", "m{unit[0]}"))  # TypeError
@example(data=_template("id", "m{unit.x}"))  # AttributeError
@example(data=_template("id", "m{unit:0999999999d}"))  # a 1 GB id
@example(data=_template("units", "1-99999999999"))  # a list of 10**11 unit ids
def test_mutated_device_templates_raise_only_config_error(
    scratch: Path, gateway_with_templates: Path, data: st.DataObject | YamlCase
) -> None:
    names = field_names(GatewayConfig)
    case = data if isinstance(data, tuple) else data.draw(yaml_files(gateway_with_templates, names))
    path = written(scratch, case)
    error = outcome(lambda: load_config(GatewayConfig, path, env={}), ConfigError)
    if isinstance(error, ConfigError):
        assert_names_file_and_field(str(error), path, case[2], GatewayConfig)


RULES_FIELDS = ("rules", "calendars", "places", "inhibit", "kind", "id", "for", "timezone")
RULES_SETTINGS = settings(FILES, max_examples=40)
"""The rules are read with PyYAML's pure-Python loader: slower."""


@RULES_SETTINGS
@given(case=yaml_files(DEFAULT_RULES, RULES_FIELDS), after_defaults=st.booleans())
@example(case=("rules.yaml", b"1: a\nzones: b\n", None), after_defaults=False)  # sorted() TypeError
@example(case=("rules.yaml", b"\xff\xfe\x00r\x00", None), after_defaults=False)  # UnicodeError
@example(case=("rules.yaml", b"rules: " + b"[" * 3_000, None), after_defaults=True)  # Recursion
@example(case=("rules.yaml", b"rules: [{id: a, x: 2024-13-45}]", None), after_defaults=False)
@example(case=("rules.yaml", b"rules: [{id: !!timestamp x}]", None), after_defaults=False)
@example(case=("rules.yaml", b"rules: [{id: !!bool x}]", None), after_defaults=False)
def test_mutated_rules_raise_only_rules_error_naming_the_file(
    scratch: Path, case: YamlCase, after_defaults: bool
) -> None:
    path = written(scratch, case)
    error = outcome(
        lambda: load_rules(*([DEFAULT_RULES] if after_defaults else []), path), RulesError
    )
    if isinstance(error, RulesError):
        assert str(error).startswith(str(path)) or str(path) in str(error).split(": ", 1)[0]
        assert str(error).split(": ", 1)[1].strip()
