"""The demo's ledger (pure; no I/O): who made each asset, when it was bought, who answers for it.

Dates are computed from the day the demo starts, so that whenever it runs one warranty
(:data:`EXPIRING`) ends within the current month, some have ended and the rest run on. One
asset (:data:`IDLE`) is marked idle: the lift hardly anyone takes in the evening.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

MAKES = {
    "ups": ("华为 Huawei", "UPS2000-G-10KRTL", "HW"),
    "crac": ("维谛 Vertiv", "Liebert PEX4 P2025", "VT"),
    "office-ac": ("格力 Gree", "KFR-72LW/NhZbB1W", "GR"),
    "dc-power-48v": ("中兴 ZTE", "ZXDU68 B301", "ZT"),
    "distribution-cabinet": ("正泰 CHINT", "GCK-0.4kV", "CH"),
    "power-meter-3ph": ("安科瑞 Acrel", "DTSD1352-C", "AC"),
    "th-sensor": ("建大仁科 Renke", "RS-WS-N01-2", "RK"),
    "water-pump": ("格兰富 Grundfos", "CR 10-6", "GF"),
    "lift-controller": ("日立 Hitachi", "HGP-1000-CO90", "HT"),
    "lighting-controller": ("施耐德 Schneider", "SpaceLogic KNX", "SE"),
    "fire-panel": ("海湾 GST", "GST200", "GS"),
    "meeting-room-av": ("爱普生 Epson", "CB-2255U", "EP"),
    "vehicle-tracker": ("锐明 Streamax", "C6D-AI", "SM"),
    "door-controller": ("海康威视 Hikvision", "DS-K2604T", "HK"),
    "motion-sensor": ("霍尼韦尔 Honeywell", "IS3016", "HN"),
}
"""Vendor, model and serial prefix of each profile's equipment."""
KEEPERS = {
    "ups": ("信息通信分公司 ICT branch", "张伟 Zhang Wei"),
    "crac": ("信息通信分公司 ICT branch", "张伟 Zhang Wei"),
    "dc-power-48v": ("信息通信分公司 ICT branch", "张伟 Zhang Wei"),
    "vehicle-tracker": ("车辆管理班 Fleet team", "刘洋 Liu Yang"),
    "door-controller": ("安全保卫部 Security", "王磊 Wang Lei"),
    "motion-sensor": ("安全保卫部 Security", "王磊 Wang Lei"),
    "fire-panel": ("安全保卫部 Security", "王磊 Wang Lei"),
}
"""Department and responsible person by profile; the rest is the logistics department's."""
LOGISTICS = ("后勤部 Logistics", "李娜 Li Na")
EXPIRING = "ups-b1-2"
"""The asset whose warranty ends within the month the demo starts in."""
IDLE = "lift-b1-2"
"""The asset marked idle (``lifecycle: idle``): it shows in the idle list and its alert fires."""
LEDGER_FIELDS = (
    "vendor",
    "model",
    "serial",
    "purchase_date",
    "warranty_end",
    "owner_department",
    "responsible",
)
"""What the ledger says of every asset."""


def months_later(day: date, months: int) -> date:
    """``day`` moved by ``months`` (negative: earlier); the day of the month is kept (≤ 28)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, min(day.day, 28))


def _month_end(day: date) -> date:
    return months_later(day.replace(day=1), 1) - timedelta(days=1)


def ledger(number: int, device: str, profile: str, today: date) -> dict[str, Any]:
    """The ledger fields of the ``number``-th device of the site, as ``POST /assets`` takes them.

    Purchases run from half a year to five years before ``today``, warranties two to five
    years; only :data:`EXPIRING`'s warranty ends in ``today``'s month.
    """
    vendor, model, prefix = MAKES[profile]
    department, person = KEEPERS.get(profile, LOGISTICS)
    if device == EXPIRING:
        warranty_end = _month_end(today)
        purchase = months_later(warranty_end.replace(day=1), -36)
    else:
        purchase = months_later(today.replace(day=1), -(6 + number * 7 % 54))
        purchase += timedelta(days=number % 27)
        warranty_end = months_later(purchase, 12 * (2 + number % 4))
        if (warranty_end.year, warranty_end.month) == (today.year, today.month):
            warranty_end = months_later(warranty_end, 1)
    return {
        "vendor": vendor,
        "model": model,
        "serial": f"{prefix}{purchase:%y%m}{number:05d}",
        "purchase_date": purchase.isoformat(),
        "warranty_end": warranty_end.isoformat(),
        "owner_department": department,
        "responsible": person,
        "lifecycle": "idle" if device == IDLE else "in_service",
    }
