"""cron's guard idiom, `[ -x /usr/bin/php ] && php …`, as a migrating operator expects it.

Under cron the line is a no-op when the test fails: its exit status (1) is ignored. jobctl
counts exit 1 as a failure (retries, then a dead letter every day), so an imported line of
the plain form `GUARD && REST` is rewritten to

    if GUARD; then
    REST
    fi

which runs exactly what the line ran and exits 0 when the guard fails. GUARD is one `test`,
`[ … ]` or `[[ … ]]` command; REST is joined by `&&` and pipes only at its top level (an
`||`, `;` or `&` there would run something after a failing guard, so such lines are kept as
they are). Anything this small reader does not follow (here-documents, backquotes, `case`)
keeps the line as written.
"""

from __future__ import annotations

_OPEN = {"if", "case", "for", "while", "until", "select", "{"}
_CLOSE = {"fi", "esac", "done", "}"}
_KEEP_COMMAND = {"then", "do", "else", "elif", "!", "time"}  # a command follows these words
_META = set(";&|()<> \t\n")
_GUARDS = {"test": None, "[": "]", "[[": "]]"}


def unguard(command: str) -> str:
    """`GUARD && REST` → `if GUARD; then\\nREST\\nfi`; any other command as it is."""
    operators = _top_level_operators(command)
    if not operators or operators[0][1] != "&&":
        return command
    if any(op not in ("&&", "|") for _, op in operators[1:]):
        return command
    at = operators[0][0]
    guard, rest = command[:at].strip(), command[at + 2 :].strip()
    words = guard.split()
    if not rest or not words or words[0] not in _GUARDS:
        return command
    closing = _GUARDS[words[0]]
    if closing is not None and words[-1] != closing:
        return command
    return f"if {guard}; then\n{rest}\nfi"


def _top_level_operators(text: str) -> list[tuple[int, str]] | None:
    """(offset, operator) of each `&&`, `||`, `;`, `;;`, `&`, `|`, `|&` or newline outside
    quotes, groups and compound commands; None for what this reader does not follow."""
    found: list[tuple[int, str]] = []
    depth, index, command_start = 0, 0, True
    while index < len(text):
        char = text[index]
        if char in " \t":
            index += 1
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n;&|()"):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif char in "()":
            depth += 1 if char == "(" else -1
            command_start, index = True, index + 1
        elif char in ";&|\n" and not _redirection(text, index):
            two = text[index : index + 2]
            op = two if two in ("&&", "||", ";;", "|&") else char
            if depth == 0:
                found.append((index, op))
            command_start, index = True, index + len(op)
        else:
            end = _word_end(text, index)
            if end is None or end == index:
                return None
            word = text[index:end]
            if word.startswith("<<"):
                return None  # a here-document
            if command_start and word in _OPEN:
                depth += 1
            elif command_start and word in _CLOSE:
                depth -= 1
            command_start = command_start and (word in _OPEN or word in _KEEP_COMMAND)
            index = end
        if depth < 0:
            return None
    return found if depth == 0 else None


def _word_end(text: str, index: int) -> int | None:
    """The end of the word at `index` (quotes and escapes inside it), None when a quote is
    not closed or a backquote appears."""
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
        elif char == "'":
            close = text.find("'", index + 1)
            if close < 0:
                return None
            index = close + 1
        elif char == '"':
            index += 1
            while index < len(text) and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            if index >= len(text):
                return None
            index += 1
        elif char == "`":
            return None
        elif char in _META and not (char in "&|<>" and _redirection(text, index)):
            return index
        else:
            index += 1
    return index


def _redirection(text: str, index: int) -> bool:
    """Whether the `<`, `>`, `&` or `|` at `index` is part of a redirection word (`2>&1`,
    `&>file`, `>|file`), not an operator."""
    char = text[index]
    if char in "<>":
        return True
    before, after = text[index - 1 : index], text[index + 1 : index + 2]
    return char in "&|" and (before in ("<", ">") or (char == "&" and after == ">"))
