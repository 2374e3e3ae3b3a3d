"""An asset's status and its reason, from lifecycle, work orders and live device state."""

from __future__ import annotations

import pytest

from api.alerts.profiles import Profiles
from api.live import LiveDevice
from api.main import fault_judge
from api.status import OpenOrder, Status, Verdict, derive
from devices.profile import Texts
from facmon.contract import StatusEnvelope

NOW = 1_800_000_000_000


def device(name: str, **state: object) -> LiveDevice:
    fields: dict[str, object] = {"ts": NOW - 1_000, "state": "online", **state}
    return LiveDevice(name, "hq", "gw-1", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lifecycle", "devices", "orders", "gateway", "expected", "reason"),
    [
        ("in_service", [device("d1")], [], "online", Status.OK, "1 device reporting"),
        ("in_service", [device("d1"), device("d2")], [], "online", Status.OK, "2 device(s)"),
        ("under_maintenance", [device("d1")], [], "online", Status.MAINTENANCE, "marked"),
        (
            "in_service",
            [device("d1")],
            [OpenOrder(7, "fan")],
            "online",
            Status.MAINTENANCE,
            "#7 open: fan",
        ),
        ("retired", [device("d1")], [], "online", Status.UNKNOWN, "retired"),
        ("in_service", [], [], "online", Status.UNKNOWN, "no device bound"),
        (
            "in_service",
            [device("d1"), device("d2", ts=None)],
            [],
            "online",
            Status.UNKNOWN,
            "no data from d2 yet",
        ),
        ("in_service", [device("d1")], [], "offline", Status.OFFLINE, "gateway gw-1 is offline"),
        (
            "in_service",
            [device("d1", state="offline", error="timeout")],
            [],
            "online",
            Status.OFFLINE,
            "not answering: timeout",
        ),
        (
            "in_service",
            [device("d1", ts=NOW - 600_000)],
            [],
            "online",
            Status.OFFLINE,
            "for 10 min",
        ),
        (
            "in_service",
            [device("d1", state="degraded", error="CRC")],
            [],
            "online",
            Status.FAULT,
            "degraded: CRC",
        ),
        (
            "in_service",
            [device("d1", quality={"a": "bad", "b": "uncertain"})],
            [],
            "online",
            Status.FAULT,
            "1 point(s) fail to read (a)",
        ),
        (
            "in_service",
            [device("d1", faults=(Texts(en="On battery", zh="电池放电"), Texts(en="Overload")))],
            [],
            "online",
            Status.FAULT,
            "d1 reports a fault: On battery, Overload",
        ),
        (
            "idle",
            [device("d1", faults=(Texts(en="Overload", zh="过载"),), state="offline")],
            [],
            "online",
            Status.OFFLINE,
            "not answering",
        ),
        ("idle", [device("d1")], [], "online", Status.IDLE, "marked idle"),
        ("idle", [device("d1", state="offline")], [], "online", Status.OFFLINE, "not answering"),
        (
            "in_service",
            [device("d1", state="degraded"), device("d2", state="offline")],
            [],
            "online",
            Status.OFFLINE,
            "d2",
        ),
    ],
)
def test_the_first_rule_that_applies_wins(
    lifecycle: str,
    devices: list[LiveDevice],
    orders: list[OpenOrder],
    gateway: str,
    expected: Status,
    reason: str,
) -> None:
    live = {d.device: d for d in devices if d.ts is not None}
    gateways = {("hq", "gw-1"): StatusEnvelope(state=gateway, ts=NOW)}  # type: ignore[arg-type]
    verdict = derive(
        lifecycle, [d.device for d in devices], live, gateways, orders, NOW, stale_after_s=300
    )
    assert verdict.status is expected
    assert reason in verdict.reason
    chinese = verdict.say("zh")
    assert chinese != verdict.reason
    assert "{" not in chinese
    assert "}" not in chinese


@pytest.mark.parametrize(
    ("verdict", "english", "chinese"),
    [
        (
            Verdict(Status.MAINTENANCE, "work_order", (("id", 7), ("title", "{x}"), ("more", 2))),
            "work order #7 open: {x} (and 2 more)",
            "工单 #7 未关闭：{x}（另有 2 个）",
        ),
        (
            Verdict(Status.OFFLINE, "silent", (("device", "d1"), ("silent_s", 9000.0))),
            "no data from d1 for 2.5 h",
            "d1 已 2.5 小时 无数据",
        ),
        (Verdict(Status.FAULT, "degraded", (("device", "d1"),)), "d1 is degraded", "d1 运行异常"),
    ],
)
def test_reasons_are_said_in_english_and_chinese(
    verdict: Verdict, english: str, chinese: str
) -> None:
    assert (verdict.reason, verdict.say("zh")) == (english, chinese)


def test_a_ups_on_battery_is_named_in_the_readers_language_never_as_an_expression() -> None:
    faults = fault_judge(Profiles())("ups", {"on_battery": True, "mains_abnormal": True})
    ups = device("ups-1", profile="ups", faults=faults)
    gateways = {("hq", "gw-1"): StatusEnvelope(state="online", ts=NOW)}  # type: ignore[arg-type]
    verdict = derive("in_service", ["ups-1"], {"ups-1": ups}, gateways, [], NOW, 300)
    assert verdict.status is Status.FAULT
    chinese, english = verdict.say("zh"), verdict.say("en")
    assert chinese == "ups-1 报告故障：市电异常、市电中断，电池放电"
    assert english == "ups-1 reports a fault: Mains abnormal, Mains failure, on battery"
    for said in (chinese, english):
        assert "==" not in said
        assert "on_battery" not in said
