"""Hostile asset ledgers (CSV and XLSX): a 4xx naming row and column, never a 5xx."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openpyxl import Workbook

from api.config import ApiConfig
from api.main import create_app
from api.routes.ledger import COLUMNS
from tests.faults.bad_input.corpus import EDGE_TEXTS, HTTP, corrupted
from tests.integration.apps import registry_services

# --- 5. The asset ledger import --------------------------------------------------------


@dataclass
class Ledger:
    """The API app in-process on a SQLite registry that has room ``r1``, and an admin header."""

    http: httpx.AsyncClient
    admin: dict[str, str]

    async def post(self, body: bytes, kind: str = "text/csv", *, dry_run: bool) -> httpx.Response:
        """Import ``body``; a 5xx (or an exception escaping the app) fails the test."""
        answer = await self.http.post(
            f"/api/v1/assets/import?dry_run={str(dry_run).lower()}",
            content=body,
            headers={**self.admin, "Content-Type": kind},
        )
        assert answer.status_code < 500, answer.text
        return answer

    async def total(self) -> int:
        """How many assets the registry holds."""
        answer = await self.http.get("/api/v1/assets?limit=1", headers=self.admin)
        return int(answer.json()["total"])


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """The app on a fresh registry with one room, and the admin's header."""
    url = ApiConfig(database=f"sqlite:///{tmp_path / 'registry.db'}").database
    async with registry_services(url, tmp_path) as (services, headers):
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for kind, body in [
                ("sites", {"id": "hq", "name": "HQ"}),
                ("buildings", {"id": "b1", "site_id": "hq", "name": "B1"}),
                ("floors", {"id": "f1", "building_id": "b1", "name": "1F"}),
                ("rooms", {"id": "r1", "floor_id": "f1", "name": "Office"}),
            ]:
                made = await http.post(f"/api/v1/{kind}", json=body, headers=headers["admin"])
                assert made.status_code == 201, made.text
            yield Ledger(http, headers["admin"])


LEDGER_HEADER = ["id", "name", "category", "room_id", "cost", "purchase_date", "lifecycle", "tags"]
FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-2+3", '=HYPERLINK("http://x")']


def ledger_rows(count: int, names: list[str] | None = None) -> list[list[str]]:
    """A good ledger of ``count`` assets (header first); ``names`` may hold formula text."""
    rows = [list(LEDGER_HEADER)]
    for n in range(count):
        name = names[n % len(names)] if names else f"办公电脑 {n}"
        rows.append(
            [f"pc-{n:03d}", name, "office", "r1", "4999.00", "2023-05-01", "in_service", "it;desk"]
        )
    return rows


def as_csv(rows: list[list[str]]) -> str:
    """``rows`` as CSV text, quoted where needed."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def assert_rows_named(report: dict[str, Any], rows: list[list[str]] | None) -> None:
    """A refusal names a row (the header is 1; 0 is the whole file) and a column of the ledger.

    An unknown column is named as the header wrote it.
    """
    assert report["errors"]
    for error in report["errors"]:
        assert error["message"].strip()
        if error["row"] == 0:
            assert error["column"] == ""
            continue
        if rows is not None:
            assert 1 <= error["row"] <= len(rows), error
        if error["message"] != "unknown column":
            assert error["column"] in {*COLUMNS, ""}, error


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "cp1252"]


@st.composite
def hostile_ledgers(draw: st.DrawFn) -> tuple[bytes, list[list[str]] | None]:
    """A CSV body: cells, rows or columns of a good ledger made hostile, then encoded oddly."""
    rows = ledger_rows(draw(st.integers(0, 6)))
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=300)), None
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        operation = draw(st.sampled_from(["cell", "cell", "drop", "extra", "duplicate", "short"]))
        if operation == "cell":
            c = draw(st.integers(0, len(rows[r]) - 1)) if rows[r] else 0
            text = draw(
                st.sampled_from(EDGE_TEXTS) | st.text(max_size=30) | st.sampled_from(FORMULAS)
            )
            rows[r][c : c + 1] = [text]
        elif operation == "drop" and rows[r]:
            del rows[r][draw(st.integers(0, len(rows[r]) - 1))]
        elif operation == "extra":
            rows[r].append(draw(st.sampled_from(["", "surplus", "colour", "id"])))
        elif operation == "duplicate":
            rows.insert(r + 1, list(rows[r]))
        else:
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))]
    quoted = draw(st.booleans())
    text = as_csv(rows) if quoted else "\n".join(",".join(r) for r in rows)
    body = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    if not quoted and any(set(cell) & set('\r\n",') for row in rows for cell in row):
        return body, None  # unquoted, a newline, quote or comma in a cell moves the rows
    if draw(st.integers(0, 3)) == 0:
        return draw(corrupted(body, [b"\x00", b'"', b"\xff", b"\r", b"\xef\xbb\xbf"])), None
    return body, rows


@HTTP
@given(case=hostile_ledgers(), dry_run=st.booleans())
@example(case=(b"id,name,category\n" + b"a" * 200_000 + b",x,y\n", None), dry_run=True)
@example(case=(b'\xef\xbb\xbfid,name,category\n"unclosed,x,y\n', None), dry_run=True)
@example(case=(b"\x00\x00\x00", None), dry_run=False)
@example(case=(b"id,name,category\nups-1,\t\r\n,ups\n", None), dry_run=True)
async def test_hostile_csv_ledgers_get_a_4xx_naming_row_and_column_never_a_5xx(
    ledger: Ledger, case: tuple[bytes, list[list[str]] | None], dry_run: bool
) -> None:
    body, rows = case
    answer = await ledger.post(body, dry_run=dry_run)
    assert answer.status_code in (200, 422), answer.text
    report = answer.json()
    if answer.status_code == 422:
        assert_rows_named(report, rows)
    else:
        assert report["errors"] == []
        assert report["created"] + report["updated"] <= report["rows"]


BAD_CELLS: list[tuple[str, str]] = [
    ("cost", "cheap"),
    ("cost", "-1"),
    ("cost", "1.234"),
    ("purchase_date", "1694131200"),
    ("purchase_date", "2024-13-45"),
    ("lifecycle", "lost"),
    ("id", "Bad Id"),
    ("id", ""),
    ("category", "Office!"),
    ("category", "hvac"),  # a slug, but no category of the vocabulary
    ("name", "x" * 201),
    ("room_id", "r404"),
    ("tags", ";".join(f"t{i}" for i in range(51))),
    ("", "surplus cell"),
    ("id", "(the id of the first row)"),
]
"""Cells the ledger must refuse: (column, text); column "" adds a cell past the header."""


@st.composite
def mixed_ledgers(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]], set[tuple[int, str]]]:
    """A good ledger, a copy with bad cells in some rows, and the (row, column) of each.

    The first data row stays good, so that a repeated id is always a repeat of a good row.
    Names are formula-like text and random text: good data, to be kept as written.
    """
    count = draw(st.integers(2, 12))
    names = draw(st.lists(st.sampled_from(FORMULAS) | st.text(min_size=1, max_size=40), min_size=1))
    good = ledger_rows(count, [n for n in names if n.strip()] or ["PC"])
    rows = st.integers(1, count - 1)
    bad = draw(st.dictionaries(rows, st.sampled_from(BAD_CELLS), min_size=1, max_size=4))
    broken = [list(row) for row in good]
    expected: set[tuple[int, str]] = set()
    for index, (column, text) in bad.items():
        row = broken[index + 1]
        if column == "":
            row.append(text)
        elif text.startswith("("):
            row[0] = good[1][0]
        else:
            row[LEDGER_HEADER.index(column)] = text
        expected.add((index + 2, column))  # spreadsheet rows: the header is row 1
    return good, broken, expected


@HTTP
@given(case=mixed_ledgers())
async def test_a_ledger_mixing_good_and_bad_rows_is_refused_whole_and_the_good_one_imports_after(
    ledger: Ledger, case: tuple[list[list[str]], list[list[str]], set[tuple[int, str]]]
) -> None:
    good, broken, expected = case
    before = await ledger.total()
    for dry_run in (True, False):
        answer = await ledger.post(as_csv(broken).encode(), dry_run=dry_run)
        assert answer.status_code == 422, answer.text
        report = answer.json()
        assert_rows_named(report, broken)
        assert {(e["row"], e["column"]) for e in report["errors"]} >= expected
        assert {e["row"] for e in report["errors"]} == {row for row, _ in expected}
    assert await ledger.total() == before  # all or nothing
    done = await ledger.post(as_csv(good).encode(), dry_run=False)
    assert done.status_code == 200, done.text
    assert done.json()["created"] + done.json()["updated"] == len(good) - 1
    stored = await ledger.http.get("/api/v1/assets/pc-000", headers=ledger.admin)
    assert stored.json()["asset"]["name"] == good[1][1].strip()  # formula text kept as text


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list[Any]], *, write_only: bool) -> bytes:
    """A workbook of ``rows`` (write-only books use inline strings, others shared strings)."""
    book = Workbook(write_only=write_only)
    sheet = book.create_sheet("assets") if write_only else book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(book: bytes, member: str, change: Callable[[bytes], bytes]) -> bytes:
    """``book`` with one zip member's bytes changed, the archive itself still valid."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, change(data) if name == member else data)
    return out.getvalue()


@cache
def good_books() -> tuple[bytes, bytes]:
    """The same small ledger as a shared-strings workbook and as a write-only one."""
    rows: list[list[Any]] = [list(r) for r in ledger_rows(3)]
    return xlsx(rows, write_only=False), xlsx(rows, write_only=True)


XML_FRAGMENTS = [
    b"<",
    b"&bogus;",
    b'<c r="ZZZZ99999999" t="s"><v>999</v></c>',
    b'<c r="A1" t="n"><v>1e999</v></c>',
    b'<c r="A1" t="d"><v>2024-13-45</v></c>',
    b'<c r="A1" t="b"><v>2</v></c>',
    b'<c r="A1" t="s"><v>-1</v></c>',
    b'<c r="A1" t="e"><v>#REF!</v></c>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    b'<row r="-1">',
    b'<dimension ref="A1:XFD1048576"/>',
    b"\xff\xfe",
]


@st.composite
def hostile_books(draw: st.DrawFn) -> bytes:
    """An XLSX body: bytes corrupted, a member's XML corrupted, or odd cell values."""
    book = draw(st.sampled_from(good_books()))
    operation = draw(st.sampled_from(["bytes", "member", "member", "cells"]))
    if operation == "bytes":
        return draw(corrupted(book, [b"PK\x03\x04", b"PK\x05\x06", b"\x00" * 30]))
    if operation == "member":
        with zipfile.ZipFile(io.BytesIO(book)) as archive:
            member = draw(st.sampled_from(sorted(archive.namelist())))
            original = archive.read(member)
        changed = draw(corrupted(original, XML_FRAGMENTS))
        return rezip(book, member, lambda _: changed)
    cells = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=False, allow_infinity=False),
        st.dates(),
        st.datetimes(),
        st.times(),
        st.sampled_from([*FORMULAS, "=1/0", "=A1", "x" * 40_000]),
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
    )
    rows: list[list[Any]] = [list(r) for r in ledger_rows(2)]
    for _ in range(draw(st.integers(1, 4))):
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, 9))
        rows[r][c : c + 1] = [draw(cells)]
    return xlsx(rows, write_only=draw(st.booleans()))


def _broken_sheet(data: bytes) -> bytes:
    return data.replace(b"</row>", b"</rox>", 2)


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl warns of the damage it meets
@HTTP
@given(book=hostile_books())
@example(book=rezip(good_books()[0], "xl/worksheets/sheet1.xml", _broken_sheet))  # was a 500
async def test_corrupt_xlsx_ledgers_get_a_4xx_naming_the_problem_never_a_5xx(
    ledger: Ledger, book: bytes
) -> None:
    answer = await ledger.post(book, XLSX, dry_run=True)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert_rows_named(answer.json(), None)
    good = await ledger.post(good_books()[0], XLSX, dry_run=True)
    assert (good.status_code, good.json()["errors"]) == (200, [])
