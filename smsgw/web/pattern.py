"""A caller's regular expression, compiled for RE2: matching time is linear in the text.

Python's ``re`` backtracks, so a pattern such as ``^(.|.)*Z`` on a long text runs for
minutes on the reactor thread and freezes the whole carrier. RE2 (``google-re2``) never
backtracks; the price is that it cannot express what needs backtracking. A pattern using
one of those constructs is refused with a message naming it, instead of RE2's terse parse
error.
"""

from __future__ import annotations

import re
from typing import Final

import re2

from smsgw.web.api import ApiError

__all__ = ["compile_pattern"]

_OPTIONS: Final = re2.Options()
# A refused pattern is the caller's mistake, answered with a 400; RE2 would also print it to stderr.
_OPTIONS.log_errors = False

# What RE2 refuses, with the name the caller is told. Checked in this order, on the pattern
# as written, so the first construct the caller used is the one named.
_UNSUPPORTED: Final = (
    (re.compile(r"\\[1-9]"), "backreferences (\\1)"),
    (re.compile(r"\(\?P="), "named backreferences ((?P=name))"),
    (re.compile(r"\(\?="), "lookaheads ((?=...))"),
    (re.compile(r"\(\?!"), "negative lookaheads ((?!...))"),
    (re.compile(r"\(\?<="), "lookbehinds ((?<=...))"),
    (re.compile(r"\(\?<!"), "negative lookbehinds ((?<!...))"),
    (re.compile(r"\(\?>"), "atomic groups ((?>...))"),
    (re.compile(r"\(\?\("), "conditionals ((?(1)...))"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers (*+, ++, ?+)"),
)

_HINT: Final = "smsgw runs patterns with RE2 (linear time), see docs/api.md"


def _construct(pattern: str) -> str | None:
    """The first construct RE2 cannot express in ``pattern``, or None."""
    # Escaped characters are literals: drop each backslash pair but keep backreference digits.
    plain = re.sub(r"\\([^1-9])", "__", pattern)
    for construct, name in _UNSUPPORTED:
        if construct.search(plain):
            return name
    return None


def compile_pattern(name: str, pattern: str) -> re2._Regexp:
    """Compile ``pattern`` (the query parameter ``name``) for RE2.

    Python's syntax is kept where RE2 has it: named groups ``(?P<n>...)``, inline flags
    ``(?i)``, classes ``\\d \\w \\s``.

    :raises ApiError: 400 ``bad_query`` naming the construct RE2 cannot express, or saying
        why the pattern is not a regular expression.
    """
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        # Named only once RE2 refused, so a pattern RE2 reads (``[*+]``) is never refused by a guess.
        construct = _construct(pattern)
        if construct is not None:
            message = f"?{name}={pattern!r}: {construct} are not supported; {_HINT}"
        else:
            raw = error.args[0] if error.args else b"invalid"
            reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            message = f"?{name}={pattern!r} is not a regular expression RE2 accepts: {reason}; {_HINT}"
        raise ApiError(400, "bad_query", message) from None
