from __future__ import annotations

from jobctl.ops.report import Level, Probe, Report, worst


def test_level_is_the_nagios_exit_code() -> None:
    assert [int(lv) for lv in (Level.OK, Level.WARNING, Level.CRITICAL, Level.UNKNOWN)] == [
        0,
        1,
        2,
        3,
    ]


def test_worst_orders_critical_over_unknown_over_warning() -> None:
    assert worst([]) is Level.OK
    assert worst([Level.OK, Level.WARNING]) is Level.WARNING
    assert worst([Level.WARNING, Level.UNKNOWN]) is Level.UNKNOWN
    assert worst([Level.UNKNOWN, Level.CRITICAL, Level.OK]) is Level.CRITICAL


def test_report_shape_and_exit_code() -> None:
    report = Report.of([Probe("db", Level.OK, 1, "ok"), Probe("disk", Level.WARNING, 5.0, "low")])
    assert report.exit_code == 1
    assert report.shape() == {
        "status": "WARNING",
        "probes": [
            {"name": "db", "status": "OK", "value": 1, "message": "ok"},
            {"name": "disk", "status": "WARNING", "value": 5.0, "message": "low"},
        ],
    }
