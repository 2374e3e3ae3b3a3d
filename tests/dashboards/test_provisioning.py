"""Grafana's provisioning files and the compose mounts agree with the dashboards."""

from __future__ import annotations

from pathlib import Path

import yaml

from dashboards.catalog import GENERATED_DIR
from dashboards.panels import DATASOURCE

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"


def test_the_data_source_has_the_uid_the_dashboards_use() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())
    (source,) = config["datasources"]
    assert {"uid": source["uid"], "type": source["type"]} == DATASOURCE
    assert source["url"] == "http://influxdb:8086"
    assert source["user"] == "facmon"
    assert source["jsonData"]["dbName"] == "facmon"
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["secureJsonData"]["password"] == "$INFLUXDB_FACMON_PASSWORD"


def test_the_dashboard_provider_reads_the_mounted_folder() -> None:
    config = yaml.safe_load((PROVISIONING / "dashboards" / "facmon.yaml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "facmon"
    assert provider["allowUiUpdates"] is False
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {
        volume.split(":")[0]: volume.split(":")[1]
        for volume in grafana["volumes"]
        if volume.startswith("./")
    }
    assert mounts["./dashboards/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./dashboards/generated"] == provider["options"]["path"]
    assert (ROOT / "dashboards" / "generated") == GENERATED_DIR
    assert "INFLUXDB_FACMON_PASSWORD" in grafana["environment"]
