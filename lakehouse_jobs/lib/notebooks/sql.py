"""Split a `%sql` cell (or a `.sql` notebook cell) into statements.

sqlglot's tokenizer (Spark dialect) finds the `;` that end statements, so semicolons inside
strings, quoted identifiers and comments stay where they are; each statement is the original
text between two of them (nothing is transpiled). When sqlglot cannot tokenize the text, a
small scanner that knows '...', "...", `...`, -- and /* */ does the same.
"""

from __future__ import annotations


def split_statements(text: str) -> list[tuple[int, str]]:
    """(line offset within `text`, statement) for each non-empty statement, in order."""
    try:
        ends = _sqlglot_ends(text)
    except Exception:  # noqa: BLE001 - sqlglot refuses some text Spark accepts: use the scanner
        ends = _scan_ends(text)
    pieces, start = [], 0
    for end in [*ends, len(text)]:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped and not _only_comments(stripped):
            lead = len(piece) - len(piece.lstrip())
            pieces.append((text.count("\n", 0, start + lead), stripped))
        start = end + 1
    return pieces


def _sqlglot_ends(text: str) -> list[int]:
    from sqlglot.dialects.spark import Spark
    from sqlglot.tokens import TokenType

    return [tok.start for tok in Spark().tokenize(text) if tok.token_type == TokenType.SEMICOLON]


def _scan_ends(text: str) -> list[int]:
    ends, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if text[i] == "\\" and ch != "`" else 1
        elif text.startswith("--", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif ch == ";":
            ends.append(i)
        i += 1
    return ends


def _only_comments(statement: str) -> bool:
    return not _strip_comments(statement).strip()


def _strip_comments(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
