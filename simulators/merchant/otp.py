"""One-time codes: issued from the injected random source, checked in constant time.

A code has ``length`` digits (default 6), lives ``ttl`` seconds (default 300) and allows
``max_attempts`` wrong guesses (default 3: the third wrong guess ends it). The defaults sit
inside the ranges seen in practice (NIST SP 800-63B: 6 digits; Twilio Verify and Surge:
3-5 attempts, 10 minutes). Each outcome other than success is its own
exception whose ``reason`` is the order's failure reason.

The code itself leaves this module only as the return value of :meth:`OtpBook.issue`, which
the merchant puts into the SMS text and nowhere else, and through :meth:`OtpBook.export`,
which only the merchant's store reads (a waiting order must still take its code after a
restart): records keep it out of ``repr``. ``random.Random`` is not a cryptographic source;
that is the point here (a seed makes a test run repeatable), and this is a fake.
"""

from __future__ import annotations

import hmac
import random

import attrs


@attrs.frozen
class OtpPolicy:
    """How codes are made and checked."""

    length: int = attrs.field(
        default=6, validator=attrs.validators.and_(attrs.validators.ge(4), attrs.validators.le(10))
    )
    ttl: float = attrs.field(default=300.0, validator=attrs.validators.gt(0))
    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))


class OtpError(Exception):
    """A code was not accepted. ``reason`` is the machine-readable cause."""

    reason = "otp_error"


class WrongCode(OtpError):
    """The code is wrong; more guesses are allowed."""

    reason = "wrong_code"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"wrong code, {attempts_left} attempts left")
        self.attempts_left = attempts_left


class CodeExpired(OtpError):
    """The code's lifetime is over."""

    reason = "code_expired"


class CodeReused(OtpError):
    """The code was already accepted once."""

    reason = "code_reused"


class TooManyAttempts(OtpError):
    """Wrong guesses used up the attempts (this one, or earlier ones)."""

    reason = "too_many_attempts"


class NoCode(OtpError):
    """No code was issued under this key, or it was withdrawn."""

    reason = "no_code"


@attrs.define
class _Record:
    code: str = attrs.field(repr=False)
    expires_at: float
    attempts_left: int
    used: bool = False


class OtpBook:
    """The codes in play, each under a key (the order id).

    :param rng: the only source of digits; seed it for reproducible codes.
    """

    def __init__(self, rng: random.Random, policy: OtpPolicy = OtpPolicy()) -> None:
        self.rng = rng
        self.policy = policy
        self._records: dict[str, _Record] = {}

    def issue(self, key: str, now: float) -> str:
        """Make a new code for ``key`` (replacing any earlier one) and return it.

        :returns: the code, for the SMS text only.
        """
        code = f"{self.rng.randrange(10**self.policy.length):0{self.policy.length}d}"
        self._records[key] = _Record(code, now + self.policy.ttl, self.policy.max_attempts)
        return code

    def expires_at(self, key: str) -> float | None:
        """When the code of ``key`` stops working, or None when there is none."""
        record = self._records.get(key)
        return None if record is None else record.expires_at

    def attempts_left(self, key: str) -> int | None:
        """Wrong guesses still allowed for ``key``, or None when there is no code."""
        record = self._records.get(key)
        return None if record is None else record.attempts_left

    def verify(self, key: str, given: str, now: float) -> None:
        """Accept ``given`` for ``key`` once, or raise why not.

        The checks run in this order, so a reused code reports ``code_reused`` even when late.

        :raises NoCode: nothing was issued under ``key`` (or it was withdrawn).
        :raises CodeReused: the code was already accepted.
        :raises TooManyAttempts: earlier wrong guesses used up the attempts, or this one did.
        :raises CodeExpired: ``now`` is at or past the expiry.
        :raises WrongCode: wrong, and attempts remain (``attempts_left`` says how many).
        """
        record = self._records.get(key)
        if record is None:
            raise NoCode(f"no code for {key}")
        if record.used:
            raise CodeReused(f"the code for {key} was already used")
        if record.attempts_left <= 0:
            raise TooManyAttempts(f"no attempts left for {key}")
        if now >= record.expires_at:
            raise CodeExpired(f"the code for {key} expired")
        # compare_digest takes as long for a near miss as for a far one; bytes because it
        # refuses non-ASCII str and a buyer may type anything.
        if hmac.compare_digest(record.code.encode(), given.strip().encode()):
            record.used = True
            return
        record.attempts_left -= 1
        if record.attempts_left <= 0:
            raise TooManyAttempts(f"too many wrong codes for {key}")
        raise WrongCode(record.attempts_left)

    def export(self, key: str) -> dict[str, str | float | int | bool] | None:
        """The record of ``key`` as plain values, code included, for the merchant's store only."""
        record = self._records.get(key)
        if record is None:
            return None
        return {
            "code": record.code,
            "expires_at": record.expires_at,
            "attempts_left": record.attempts_left,
            "used": record.used,
        }

    def load(self, key: str, exported: dict[str, object]) -> None:
        """Put back a record from :meth:`export`.

        :raises ValueError: a field is missing or of the wrong type.
        """
        try:
            code, expires_at = exported["code"], exported["expires_at"]
            attempts_left, used = exported["attempts_left"], exported["used"]
        except KeyError as missing:
            raise ValueError(f"the code record of {key} has no {missing}") from None
        if (
            not isinstance(code, str)
            or not isinstance(expires_at, (int, float))
            or not isinstance(attempts_left, int)
            or not isinstance(used, bool)
        ):
            raise ValueError(f"the code record of {key} is malformed")
        self._records[key] = _Record(code, float(expires_at), attempts_left, used)

    def withdraw(self, key: str) -> None:
        """Forget the code of ``key`` (its order was cancelled); later checks raise :class:`NoCode`."""
        self._records.pop(key, None)
