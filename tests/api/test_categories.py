"""The vocabulary of asset categories: its data, its checks, and everything that uses it."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.alerts.rules import RulesError, load_rules
from api.categories import Category, UnknownCategory, Vocabulary, shipped
from api.config import ApiConfig
from facmon.config import ConfigError, load_config
from launcher import demo_site

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
KIOSK = {"id": "kiosk", "en": "Self-service kiosk", "zh": "自助终端"}


def test_every_shipped_category_has_both_names_and_ids_and_aliases_do_not_clash() -> None:
    categories = list(shipped())
    assert len(categories) >= 15
    for category in categories:
        assert category.en.strip(), category.id
        assert category.zh.strip(), category.id
        assert re.search(r"[\u4e00-\u9fff]", category.zh), category.id
    ids = {c.id for c in categories}
    assert not ids & {alias for c in categories for alias in c.aliases}
    assert len({c.zh for c in categories}) == len(categories)
    assert len({c.en for c in categories}) == len(categories)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("hvac", ["crac", "air-conditioner"]),  # an alias of both
        ("plumbing", ["pump"]),
        ("enviroment", ["environment"]),  # a typo
        ("UPS", ["ups"]),
        ("lifts", ["lift"]),
    ],
)
def test_an_unknown_category_is_refused_with_did_you_mean_and_the_known_ones(
    written: str, meant: list[str]
) -> None:
    with pytest.raises(UnknownCategory) as refused:
        shipped().check(written)
    message = str(refused.value)
    assert f"unknown asset category {written!r}" in message
    assert "did you mean " + " or ".join(map(repr, meant)) + "?" in message
    assert "known: ups, crac, air-conditioner," in message


def test_nothing_close_gives_no_guess() -> None:
    with pytest.raises(UnknownCategory) as refused:
        shipped().check("zzzz")
    assert "did you mean" not in str(refused.value)
    assert shipped().check("crac") == "crac"


def test_a_site_adds_categories_after_facmons_own_but_cannot_redefine_one() -> None:
    site = ApiConfig(categories=[Category(**KIOSK)]).vocabulary()
    assert [c.id for c in site][-1] == "kiosk"
    assert "kiosk" in site
    assert "kiosk" not in shipped()
    with pytest.raises(ValueError, match="'ups' is one of facmon's own"):
        ApiConfig(categories=[{**KIOSK, "id": "ups"}])
    with pytest.raises(ValueError, match="'kiosk' is given twice"):
        ApiConfig(categories=[KIOSK, KIOSK])
    with pytest.raises(ValueError, match="given twice"):
        Vocabulary([Category(**KIOSK), Category(**KIOSK)])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ROUTES = """\
categories:
  - {id: kiosk, en: Kiosk, zh: 自助终端}
alerts:
  routes:
    - name: server-rooms
      match: {categories: [ups, kiosk]}
      targets: [mailto:duty@example.com]
    - name: hvac
      match:
        categories: [crac, hvac]
      targets: [mailto:duty@example.com]
"""


def test_a_route_with_an_unknown_category_stops_the_config_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    config = write(tmp_path / "api.yaml", ROUTES)
    with pytest.raises(ConfigError) as refused:
        load_config(ApiConfig, config, {})
    message = str(refused.value)
    assert message.startswith(f"{config}:10: alerts.routes[1].match.categories[1]: ")
    assert "unknown asset category 'hvac'; did you mean 'crac' or 'air-conditioner'?" in message
    fixed = write(tmp_path / "fixed.yaml", ROUTES.replace("crac, hvac", "crac"))
    assert load_config(ApiConfig, fixed, {}).alerts.routes[0].match.categories == ["ups", "kiosk"]


RULES = """\
rules:
  - id: no-idle-for-kiosks
    kind: idle
    overrides: idle-equipment
    enabled: false
    match: {categories: [CATEGORY]}
"""


def test_a_rules_file_with_an_unknown_category_is_a_rules_error(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.yaml", RULES.replace("CATEGORY", "hvac"))
    with pytest.raises(RulesError) as refused:
        load_rules(*ApiConfig().alerts.rule_files(), rules)
    message = str(refused.value)
    assert message.startswith(f"{rules}: rules.0.idle.match.categories.0: unknown asset category")
    assert "did you mean 'crac' or 'air-conditioner'?" in message


def test_a_rules_file_takes_the_sites_categories_when_given_them(tmp_path: Path) -> None:
    defaults = ApiConfig().alerts.rule_files()
    rules = write(tmp_path / "rules.yaml", RULES.replace("CATEGORY", "kiosk"))
    with pytest.raises(RulesError, match="unknown asset category 'kiosk'"):
        load_rules(*defaults, rules)
    site = ApiConfig(categories=[KIOSK]).vocabulary()
    loaded = load_rules(*defaults, rules, categories=site)
    assert any(rule.match.categories == ["kiosk"] for rule in loaded.rules)


# -- everything facmon ships or documents uses the vocabulary -------------------------------


def _listed_categories(node: Any) -> list[Any]:
    """Every value listed under a ``categories`` key of ``node`` (match lists)."""
    found: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "categories" and isinstance(value, list):
                found.extend(value)
            found.extend(_listed_categories(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_listed_categories(item))
    return found


def documented_categories(text: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The categories ``text`` (Markdown) uses, and those it adds as a site would.

    From its YAML blocks (``categories:`` anywhere, flow or block lists), its inline
    ``categories: [...]``, and the ``"category": "..."`` of its JSON bodies.
    """
    used: list[str] = []
    added: list[dict[str, Any]] = []
    for block in re.findall(r"```ya?ml\n(.*?)```", text, flags=re.DOTALL):
        try:  # as facmon reads YAML (libyaml takes `[a?b=c]`, which PyYAML's parser does not)
            data = yaml.load(block, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            continue  # a fragment: its inline lists are still read below
        for value in _listed_categories(data):
            (added if isinstance(value, dict) else used).append(value)
    for listed in re.findall(r"categories: *\[([^\]]*)\]", text):
        used.extend(word.strip() for word in listed.split(",") if word.strip())
    used.extend(re.findall(r'"category": *"([^"]*)"', text))
    return used, added


def test_the_docs_check_finds_every_way_of_writing_categories() -> None:
    text = (
        "```yaml\ncategories:\n  - {id: kiosk, en: K, zh: K}\nroutes:\n  - match:\n"
        "      categories:\n        - ups\n```\n"
        '`match: {categories: [crac, av]}` and `-d \'{"category": "meter"}\'`\n'
    )
    used, added = documented_categories(text)
    assert sorted(set(used)) == ["av", "crac", "meter", "ups"]
    assert [a["id"] for a in added] == ["kiosk"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_category_in_the_docs_is_in_the_vocabulary(doc: Path) -> None:
    used, added = documented_categories(doc.read_text(encoding="utf-8"))
    known = shipped().extended(Category(**a) for a in added)
    assert [c for c in used if c not in known] == []


def test_the_docs_use_categories_at_all() -> None:
    assert "crac" in documented_categories((ROOT / "docs/alerts.md").read_text())[0]


def test_the_demo_files_its_assets_under_the_vocabulary() -> None:
    assert sorted(c for c in set(demo_site.CATEGORIES.values()) if c not in shipped()) == []
    assert demo_site.CATEGORIES["crac"] == "crac"  # what the documented route matches


def test_the_sample_ledger_uses_the_vocabulary() -> None:
    with (ROOT / "examples/assets.csv").open(encoding="utf-8") as sample:
        categories = [row["category"] for row in csv.DictReader(sample)]
    assert categories
    assert [c for c in categories if c not in shipped()] == []
