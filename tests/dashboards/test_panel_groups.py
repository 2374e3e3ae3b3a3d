"""The panel groups build the panels their dashboards would otherwise write out."""

from __future__ import annotations

from typing import Any

from dashboards.mappings import DEVICE_STATES
from dashboards.panel_groups import (
    NewestStat,
    count_stat,
    device_states,
    event_totals,
    newest_stats,
    room_humidity,
)
from dashboards.panels import GPanel, coloured_cells, newest, override, series_colour
from dashboards.panels import stat as stat_panel
from dashboards.thresholds import GREEN, NEUTRAL, RED, fault_steps, steps


def data(panel: GPanel) -> dict[str, Any]:
    json: dict[str, Any] = panel.to_json_data()
    return json


def queries(panel: GPanel) -> list[str]:
    return [t.query for t in panel.targets]


def test_a_count_is_green_at_zero_and_shows_zero_when_nothing_matches() -> None:
    panel = count_stat("Devices offline", "SELECT count(x) FROM y", alarm=RED, h=8)
    assert data(panel) == data(
        stat_panel(
            "Devices offline",
            "SELECT count(x) FROM y",
            thresholds=steps(GREEN, (1, RED)),
            no_value="0",
            h=8,
        )
    )
    assert panel.noValue == "0"


def test_newest_stats_read_one_field_each_coloured_by_faults_or_thresholds() -> None:
    load, runtime, plain = newest_stats(
        "ups",
        '"room" =~ /^$room$/',
        NewestStat("UPS load", "load_pct", unit="percent", faults="ups"),
        NewestStat("Runtime", "runtime_remaining_min", thresholds=steps(RED, (10, GREEN))),
        NewestStat("Inverter", "inverter_temp", unit="celsius", decimals=1),
    )
    assert queries(load) == [newest("ups", "load_pct", where='"room" =~ /^$room$/').query]
    assert load.thresholds == fault_steps("ups", "load_pct")
    assert load.format == "percent"
    assert runtime.thresholds == steps(RED, (10, GREEN))
    assert plain.thresholds == steps(NEUTRAL)
    assert plain.decimals == 1
    assert [p.gridPos.w for p in (load, runtime, plain)] == [6, 6, 6]


def test_newest_groups_by_another_tag_when_asked() -> None:
    query = newest("facmon_collector", "lag_s", where="true", by="collector")
    assert query.query.endswith('GROUP BY "collector"')
    assert query.alias == "$tag_collector"


def test_device_states_colour_the_state_and_name_the_time_since() -> None:
    panel = device_states(
        "Device status", "SELECT last(state) FROM s", sort_by=("state", True), description="d"
    )
    assert panel.overrides == [
        coloured_cells("state", DEVICE_STATES),
        override("Time", {"displayName": "Since"}),
    ]
    assert panel.targets[0].format == "table"


def test_event_totals_count_events_per_type() -> None:
    colours = [series_colour("sos", RED)]
    panel = event_totals("Driving events", "$timeFilter", colours)
    assert queries(panel) == [
        'SELECT count("facmon_seq") FROM "facmon_events" WHERE $timeFilter GROUP BY "type"'
    ]
    assert panel.targets[0].alias == "$tag_type"
    assert panel.overrides == colours
    assert panel.gridPos.w == 12


def test_room_humidity_is_coloured_by_the_sensor_profile() -> None:
    panel = room_humidity("true", w=10)
    assert panel.thresholds == fault_steps("th-sensor", "humidity")
    assert (panel.valueMin, panel.valueMax, panel.gridPos.w) == (0, 100, 10)
