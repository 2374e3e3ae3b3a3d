"""The alerting part of the API's configuration: rules files, routes to teams, SMTP."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from api.alerts.channels.registry import parse_target
from api.alerts.channels.smtp import SmtpConfig
from api.alerts.labels import admits
from api.categories import UnknownCategory, Vocabulary
from facmon.config import ConfigModel, FieldError
from facmon.types import Severity, Slug

DEFAULT_RULES = Path(__file__).with_name("default-rules.yaml")


class RouteMatch(ConfigModel):
    """Which alerts a route takes: each list given must hold the alert's value."""

    sites: list[Slug] = Field(default_factory=list)
    """Sites."""
    buildings: list[Slug] = Field(default_factory=list)
    """Buildings."""
    categories: list[Slug] = Field(default_factory=list)
    """Asset categories (ids of `GET /api/v1/categories`)."""
    equipment: list[Slug] = Field(default_factory=list)
    """Kinds of equipment (as the profile says)."""
    severities: list[Severity] = Field(default_factory=list)
    """Severities."""
    rules: list[Slug] = Field(default_factory=list)
    """Rule ids."""

    def admits(self, labels: dict[str, str]) -> bool:
        """Whether an alert with ``labels`` goes this way."""
        return admits(self, labels)


class Route(ConfigModel):
    """A team and how it is told: which alerts, to which targets, in which language."""

    name: Slug
    """Name of the route (shown with each delivery)."""
    match: RouteMatch = RouteMatch()
    """Which alerts; empty takes them all."""
    language: Literal["zh", "en"] = "zh"
    """Language of the texts: zh (简体中文) or en."""
    targets: list[str] = Field(min_length=1)
    """Where to send: http(s):// webhooks, wecom+https://, dingtalk+https://,
    feishu+https:// robots, mailto: addresses (see docs/alerts.md)."""
    send_resolved: bool = True
    """Say when an alert is resolved too."""
    group_interval_s: float = Field(default=30.0, ge=0, le=3600)
    """Alerts arriving within this long of a notification wait and go together."""
    renotify_s: float = Field(default=4 * 3600.0, ge=0)
    """Remind while an alert is firing and not acknowledged, this often (0: never)."""
    escalate_after_s: float | None = Field(default=None, gt=0)
    """Not acknowledged within this long: tell ``escalate_to`` too."""
    escalate_to: list[str] = Field(default_factory=list)
    """Targets told on escalation."""

    @field_validator("targets", "escalate_to")
    @classmethod
    def _known_targets(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_target(value)
        return values


class AlertsConfig(ConfigModel):
    """Detection rules and who is told about alerts."""

    rules: list[Path] = Field(default_factory=list)
    """Rules files, read after the defaults (see docs/alerts.md)."""
    defaults: bool = True
    """Apply the rules facmon ships (api/alerts/default-rules.yaml) first."""
    routes: list[Route] = Field(default_factory=list)
    """Teams to notify; an alert goes to every route that matches it."""
    smtp: SmtpConfig | None = None
    """The SMTP server for mailto: targets."""
    publish: bool = True
    """Publish each alert change on `{prefix}/v1/alerts/{site}`, and each asset's hours in use
    per day on `{prefix}/v1/usage/{site}` (both stored by the collector)."""
    usage_every_s: float = Field(default=60.0, ge=1, le=3600)
    """How often the hours in use counted are saved to the registry and published."""

    def check_categories(self, vocabulary: Vocabulary) -> None:
        """Check that every route's ``categories`` are in ``vocabulary``.

        Raises:
            FieldError: at the first unknown one (``routes[i].match.categories[j]``).
        """
        for number, route in enumerate(self.routes):
            for index, category in enumerate(route.match.categories):
                try:
                    vocabulary.check(category)
                except UnknownCategory as exc:
                    raise FieldError(
                        str(exc), "routes", number, "match", "categories", index
                    ) from None

    def rule_files(self) -> list[Path]:
        """The rules files in the order they are read."""
        return ([DEFAULT_RULES] if self.defaults else []) + list(self.rules)
