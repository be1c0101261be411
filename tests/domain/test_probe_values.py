"""Pure parts of dependency probes: Nagios codes, certificate days, HTTP status, targets,
and hiding secrets."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobctl.domain.certs import BadCertificate, not_after
from jobctl.domain.probes import (
    Verdict,
    check_url,
    days_verdict,
    nagios_verdict,
    parse_address,
    plugin_message,
    redact_url,
    scrub,
    secrets_in,
    status_matches,
)
from jobctl.errors import InvalidInput
from tests.support.probe_servers import make_cert


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (0, Verdict.OK),
        (1, Verdict.WARN),
        (2, Verdict.FAIL),
        (3, Verdict.UNKNOWN),
        (4, Verdict.FAIL),
        (127, Verdict.FAIL),
    ],
)
def test_plugin_exit_codes_read_as_nagios_reads_them(code: int, verdict: Verdict) -> None:
    assert nagios_verdict(code) is verdict


def test_a_plugins_message_is_its_first_line_without_perfdata() -> None:
    assert plugin_message("LOAD OK - 0.1|load1=0.1\nmore\n") == "LOAD OK - 0.1"
    assert plugin_message("", "oops: no such file\n") == "oops: no such file"


def test_only_ok_and_warn_are_up() -> None:
    assert [v.up for v in Verdict] == [True, True, False, False]


@pytest.mark.parametrize(
    ("days", "verdict"),
    [
        (30, Verdict.OK),
        (14.5, Verdict.OK),
        (14, Verdict.WARN),
        (5, Verdict.WARN),
        (3, Verdict.FAIL),
        (0.5, Verdict.FAIL),
        (-3, Verdict.FAIL),
    ],
)
def test_certificate_days_against_warn_14_and_crit_3(days: float, verdict: Verdict) -> None:
    assert days_verdict(days, 14, 3) is verdict


def test_expected_status_defaults_to_any_2xx() -> None:
    assert status_matches(204, ()) and not status_matches(301, ()) and not status_matches(500, ())
    assert status_matches(301, (301,)) and not status_matches(200, (301,))


def test_addresses() -> None:
    assert parse_address("db.local:5432") == ("db.local", 5432)
    assert parse_address("[::1]:443") == ("::1", 443)
    for bad in ("db.local", ":443", "h:0", "h:70000", "h:x"):
        with pytest.raises(InvalidInput, match="HOST:PORT"):
            parse_address(bad)


def test_urls_by_kind_name_the_bad_one_with_its_password_hidden() -> None:
    check_url("postgres", "postgresql://u:pw@db/x")
    check_url("redis", "rediss://:pw@cache:6380/1")
    with pytest.raises(InvalidInput) as caught:
        check_url("redis", "http://:hunter2@cache:6379")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(InvalidInput, match=r"bad port|Port"):
        check_url("mysql", "mysql://h:99999/x")
    with pytest.raises(InvalidInput, match="in url_file /x"):
        check_url("http", "ftp://secret@x", shown="in url_file /x")


def test_passwords_and_secret_parameters_are_hidden_and_scrubbed() -> None:
    url = "postgresql://app:s%40cret@db:5432/x?sslmode=require&password=p2"
    assert redact_url(url) == "postgresql://app:***@db:5432/x?sslmode=require&password=***"
    assert redact_url("http://db/x") == "http://db/x"
    found = secrets_in(url)
    assert {"s%40cret", "s@cret", "p2"} <= set(found)
    message = "FATAL: password authentication failed (s@cret) for p2"
    assert scrub(message, found) == "FATAL: password authentication failed (***) for ***"


def test_not_after_reads_a_certificates_expiry(tmp_path: Path) -> None:
    cert, _key = make_cert(tmp_path, 5)
    der = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-outform", "der"], capture_output=True, check=True
    ).stdout
    text = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-enddate"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    expected = datetime.strptime(text.split("=", 1)[1], "%b %d %H:%M:%S %Y GMT")
    assert not_after(der) == expected.replace(tzinfo=UTC)
    with pytest.raises(BadCertificate):
        not_after(der[:40])
    with pytest.raises(BadCertificate):
        not_after(b"\x02\x01\x00")
