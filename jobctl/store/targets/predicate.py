"""The `--where` predicate: one SQL expression, checked by tokenising before any DB sees it.

The tokeniser refuses what cannot be part of a single read-only expression: `;`, comments,
statement keywords (DDL, DML, transaction control), bind parameters, unbalanced
parentheses, and functions with side effects. Each dialect then runs the expression in a
read-only context as a second line of defence.
"""

from __future__ import annotations

import re

from jobctl.errors import InvalidInput

# Words that only start or belong to statements other than a SELECT expression.
STATEMENT_WORDS = frozenset(
    """insert update delete upsert merge create drop alter truncate attach detach pragma
    vacuum reindex analyze explain grant revoke copy call execute prepare deallocate begin
    commit rollback savepoint set into returning listen notify""".split()  # noqa: SIM905
)
# Functions that write, sleep, signal, read files or run SQL text.
DENIED_FUNCTIONS = frozenset(
    """load_extension readfile writefile edit fts3_tokenizer nextval setval set_config
    query_to_xml query_to_xml_and_xmlschema query_to_xmlschema cursor_to_xml
    cursor_to_xmlschema table_to_xml database_to_xml schema_to_xml txid_current
    current_setting""".split()  # noqa: SIM905
)
DENIED_PREFIXES = ("pg_", "lo_", "dblink")
MAX_LENGTH = 10_000
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _bad(predicate: str, why: str) -> InvalidInput:
    shown = predicate if len(predicate) <= 200 else predicate[:200] + "..."
    return InvalidInput(f"invalid --where {shown!r}: {why}")


def check_predicate(predicate: str, dialect: str) -> str:
    """Return the predicate stripped, or raise InvalidInput naming it and the reason.
    `dialect` is `sqlite` or `postgres` (their quoting and literals differ)."""
    text = predicate.strip()
    if not text:
        raise _bad(predicate, "it is empty")
    if len(text) > MAX_LENGTH:
        raise _bad(predicate, f"longer than {MAX_LENGTH} characters")
    depth, i, n = 0, 0, len(text)
    words: list[tuple[str, int]] = []
    while i < n:
        c = text[i]
        if c in "\x00\r" or (ord(c) < 32 and c not in "\t\n"):
            raise _bad(predicate, "control characters are not allowed")
        if c.isspace():
            i += 1
        elif c == "'":
            i = _skip_string(text, i, predicate, backslash=False)
        elif c in '"`[' and (c == '"' or dialect == "sqlite"):
            i = _skip_quoted(text, i, predicate, {"[": "]"}.get(c, c))
        elif text.startswith("--", i) or text.startswith("/*", i):
            raise _bad(predicate, "comments are not allowed")
        elif c == ";":
            raise _bad(predicate, "';' is not allowed: give one expression, not statements")
        elif c == "(":
            depth += 1
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise _bad(predicate, "unbalanced ')'")
            i += 1
        elif c in "?$@" or (c == ":" and not text.startswith("::", i)):
            if c == ":" or dialect == "sqlite" or c != "$":
                raise _bad(predicate, f"bind parameters ({c!r}) are not allowed")
            raise _bad(predicate, "dollar quoting and parameters ($) are not allowed")
        elif c == ":":
            i += 2
        elif (m := _WORD.match(text, i)) is not None:
            word = m.group(0)
            end = m.end()
            if word.lower() == "e" and dialect == "postgres" and text.startswith("'", end):
                i = _skip_string(text, end, predicate, backslash=True)
                continue
            words.append((word.lower(), end))
            i = end
        else:
            i += 1
    if depth:
        raise _bad(predicate, "unbalanced '('")
    for word, end in words:
        _check_word(text, predicate, word, end)
    return text


def _check_word(text: str, predicate: str, word: str, end: int) -> None:
    call = text[end:].lstrip().startswith("(")
    if word == "replace" and call:  # replace(x, 'a', 'b') is a function
        return
    if word in STATEMENT_WORDS or word == "replace":
        raise _bad(predicate, f"{word.upper()} is not allowed in a predicate")
    if call and (word in DENIED_FUNCTIONS or word.startswith(DENIED_PREFIXES)):
        raise _bad(predicate, f"function {word}() is not allowed in a predicate")


def _skip_string(text: str, start: int, predicate: str, backslash: bool) -> int:
    i = start + 1
    while i < len(text):
        c = text[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == "'":
            if text.startswith("''", i):
                i += 2
                continue
            return i + 1
        i += 1
    raise _bad(predicate, "unterminated string literal")


def _skip_quoted(text: str, start: int, predicate: str, close: str) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == close:
            if close != "]" and text.startswith(close * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    raise _bad(predicate, "unterminated quoted identifier")


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (both dialects)."""
    return '"' + name.replace('"', '""') + '"'
