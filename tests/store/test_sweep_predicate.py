"""The --where tokeniser: one read-only expression, or InvalidInput naming it and why."""

from __future__ import annotations

import pytest

from jobctl.errors import InvalidInput
from jobctl.store.targets import normalize_target, redact_url
from jobctl.store.targets.predicate import check_predicate, quote_ident


@pytest.mark.parametrize(
    "text",
    [
        "v % 2 = 0",
        "created_at < 1700000000 AND tag IN ('a', 'b')",
        "tag = 'it''s; -- not a comment'",
        '"select" = 1',
        "replace(tag, 'a', 'b') = 'x'",
        "id IN (SELECT id FROM other WHERE other.flag)",
        "CASE WHEN v > 1 THEN 1 ELSE 0 END = 1",
    ],
)
def test_ordinary_expressions_pass(text: str) -> None:
    assert check_predicate(f"  {text} ", "sqlite") == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1=1; DROP TABLE t", "';' is not allowed"),
        ("v = 1 -- x", "comments"),
        ("v = 1 /* x */", "comments"),
        ("1=1) OR (1=1", "unbalanced"),
        ("(v = 1", "unbalanced"),
        ("v IN (DELETE FROM t RETURNING id)", "DELETE is not allowed"),
        ("v = 1 OR (UPDATE t SET v = 2) IS NULL", "UPDATE is not allowed"),
        ("attach('x')", "ATTACH is not allowed"),
        ("load_extension('evil.so') IS NULL", "load_extension"),
        ("v = ?", "bind parameters"),
        ("v = :name", "bind parameters"),
        ("'open", "unterminated string"),
        ('"open', "unterminated quoted identifier"),
        ("", "empty"),
        ("v = 1\x00", "control characters"),
    ],
)
def test_statements_comments_and_params_are_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match="--where") as info:
        check_predicate(text, "sqlite")
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("nextval('s') > 0", "nextval"),
        ("pg_sleep(100) IS NULL", "pg_sleep"),
        ("query_to_xml('DELETE FROM t', true, true, '') IS NULL", "query_to_xml"),
        ("$$x$$ = 'x'", "dollar"),
        ("E'\\'; DROP TABLE t; --' = tag", None),
    ],
)
def test_postgres_specific_refusals(text: str, why: str | None) -> None:
    if why is None:  # an E'' string with an escaped quote is one literal: fine
        assert check_predicate(text, "postgres") == text
        return
    with pytest.raises(InvalidInput, match=why):
        check_predicate(text, "postgres")


def test_postgres_casts_are_not_parameters() -> None:
    assert check_predicate("v::text = '1'", "postgres") == "v::text = '1'"


def test_identifiers_are_quoted() -> None:
    assert quote_ident('we"ird') == '"we""ird"'


def test_targets_normalize_to_absolute_sqlite_urls(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_target("sqlite:///rel.db") == f"sqlite:///{tmp_path}/rel.db"
    assert normalize_target("plain.db") == f"sqlite:///{tmp_path}/plain.db"
    assert normalize_target("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    with pytest.raises(InvalidInput, match="mysql"):
        normalize_target("mysql://h/db")
    assert redact_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
