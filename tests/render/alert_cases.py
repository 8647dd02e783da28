"""Promtool unit tests for every alert the platform defines: series that must fire it, series that must not.

Metric names come from `app.contract.Metrics`, never repeated here. The gate fails when an alert in the
rendered PrometheusRule has no case, or a case names an alert that no longer exists.
"""

from __future__ import annotations

from tests.render.validators import AlertCase

ALERT_CASES: dict[str, AlertCase] = {}
