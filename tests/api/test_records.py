"""Work orders' records: a close time is stamped by the write that closes, never by a read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.records import WorkOrderIn, WorkOrderOut, closing
from api.registry.models import WorkOrderStatus

OPENED = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
NOW = OPENED + timedelta(hours=3)
CLOSED, OPEN, IN_PROGRESS = (
    WorkOrderStatus.CLOSED,
    WorkOrderStatus.OPEN,
    WorkOrderStatus.IN_PROGRESS,
)


def _stored(status: WorkOrderStatus, closed_at: datetime | None = None) -> dict[str, Any]:
    return {
        "id": 7,
        "asset_id": "ups-1",
        "title": "t",
        "status": status,
        "opened_at": OPENED,
        "closed_at": closed_at,
    }


def test_reading_a_closed_order_gives_back_what_is_stored_even_no_time() -> None:
    read = WorkOrderOut.model_validate(_stored(CLOSED))
    assert read.closed_at is None
    assert WorkOrderOut.model_validate(_stored(CLOSED, NOW)).closed_at == NOW


def test_the_order_of_opened_and_closed_is_still_checked() -> None:
    with pytest.raises(ValueError, match="closed_at must not be before opened_at"):
        WorkOrderOut.model_validate(_stored(CLOSED, OPENED - timedelta(seconds=1)))
    with pytest.raises(ValueError, match="closed_at must not be before opened_at"):
        WorkOrderIn(asset_id="a", title="t", opened_at=NOW, closed_at=OPENED)


def test_the_schema_of_a_new_order_does_not_stamp_it() -> None:
    assert WorkOrderIn(asset_id="a", title="t", status=CLOSED).closed_at is None


@pytest.mark.parametrize(
    ("stored", "given", "closed_at"),
    [
        (None, {"status": CLOSED, "opened_at": OPENED, "closed_at": None}, NOW),
        (None, {"status": CLOSED, "opened_at": OPENED, "closed_at": OPENED}, OPENED),
        (None, {"status": OPEN, "opened_at": OPENED, "closed_at": None}, None),
        (_stored(OPEN), {"status": CLOSED}, NOW),
        (_stored(IN_PROGRESS), {"status": CLOSED, "resolution": "done"}, NOW),
        (_stored(OPEN), {"status": CLOSED, "closed_at": OPENED}, OPENED),
        (_stored(OPEN, OPENED), {"status": CLOSED}, NOW),  # a stale time is not kept
        (_stored(CLOSED, OPENED), {"resolution": "done"}, OPENED),
        (_stored(CLOSED, OPENED), {"status": CLOSED}, OPENED),
        (_stored(CLOSED), {"cost": "12.00"}, None),  # closed before times were kept
        (_stored(CLOSED, OPENED), {"status": OPEN}, None),
        (_stored(CLOSED, OPENED), {"status": IN_PROGRESS, "closed_at": None}, None),
        (_stored(OPEN, OPENED), {"title": "x"}, None),
    ],
)
def test_a_write_keeps_the_close_time_true(
    stored: dict[str, Any] | None, given: dict[str, Any], closed_at: datetime | None
) -> None:
    written = closing(stored, given, NOW)
    assert {**(stored or {}), **written}["closed_at"] == closed_at
    assert {k: v for k, v in written.items() if k != "closed_at"} == {
        k: v for k, v in given.items() if k != "closed_at"
    }


def test_closing_now_is_never_before_the_order_was_opened() -> None:
    later = NOW + timedelta(days=1)
    given = {"status": CLOSED, "opened_at": later, "closed_at": None}
    assert closing(None, given, NOW)["closed_at"] == later


@pytest.mark.parametrize(
    ("stored", "given"),
    [
        (None, {"status": OPEN, "opened_at": OPENED, "closed_at": NOW}),
        (_stored(OPEN), {"closed_at": NOW}),
        (_stored(CLOSED, OPENED), {"status": IN_PROGRESS, "closed_at": NOW}),
    ],
)
def test_a_close_time_is_refused_on_an_order_that_is_not_closed(
    stored: dict[str, Any] | None, given: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="only for a closed work order"):
        closing(stored, given, NOW)
