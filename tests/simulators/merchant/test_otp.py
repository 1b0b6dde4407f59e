"""One-time codes: reproducible from a seed, limited in time and attempts, checked in constant time."""

from __future__ import annotations

import hmac
import random

import pytest

from simulators.merchant.otp import (
    CodeExpired,
    CodeReused,
    NoCode,
    OtpBook,
    OtpPolicy,
    TooManyAttempts,
    WrongCode,
)


def test_codes_are_reproducible_with_a_seed() -> None:
    """Two books with the same seed issue the same codes; another seed issues others."""
    one, two = OtpBook(random.Random(42)), OtpBook(random.Random(42))
    codes = [one.issue(f"k{i}", 0.0) for i in range(5)]
    assert codes == [two.issue(f"k{i}", 0.0) for i in range(5)]
    assert codes != [OtpBook(random.Random(43)).issue(f"k{i}", 0.0) for i in range(5)]


@pytest.mark.parametrize("length", [4, 6, 8, 10])
def test_codes_have_the_configured_length(length: int) -> None:
    """Codes are exactly ``length`` digits, leading zeros included."""
    book = OtpBook(random.Random(0), OtpPolicy(length=length))
    codes = [book.issue(str(i), 0.0) for i in range(300)]
    assert all(len(c) == length and c.isdigit() for c in codes)


@pytest.mark.parametrize("policy", [{"length": 3}, {"length": 11}, {"ttl": 0}, {"max_attempts": 0}])
def test_policy_is_validated(policy: dict[str, float]) -> None:
    """Codes shorter than 4 or longer than 10 digits, no lifetime or no attempts are refused."""
    with pytest.raises(ValueError):
        OtpPolicy(**policy)  # type: ignore[arg-type]


def test_right_code_is_accepted_once() -> None:
    """A right code passes once; the second time it is reported as reused, right or wrong."""
    book = OtpBook(random.Random(1))
    code = book.issue("ord", 0.0)
    book.verify("ord", f" {code} ", 10.0)
    with pytest.raises(CodeReused):
        book.verify("ord", code, 11.0)
    with pytest.raises(CodeReused):
        book.verify("ord", "000000" if code != "000000" else "111111", 11.0)


def test_wrong_codes_count_down_then_lock() -> None:
    """Each wrong code says how many attempts remain; the last one is 'too many', and then even the right code is refused."""
    book = OtpBook(random.Random(1), OtpPolicy(max_attempts=3))
    code = book.issue("ord", 0.0)
    wrong = "x" + code[1:]
    for left in (2, 1):
        with pytest.raises(WrongCode) as error:
            book.verify("ord", wrong, 1.0)
        assert error.value.attempts_left == left and error.value.reason == "wrong_code"
        assert book.attempts_left("ord") == left
    with pytest.raises(TooManyAttempts):
        book.verify("ord", wrong, 1.0)
    with pytest.raises(TooManyAttempts):
        book.verify("ord", code, 1.0)


def test_code_expires_after_ttl() -> None:
    """A code works until just before now + ttl and is expired from then on."""
    book = OtpBook(random.Random(1), OtpPolicy(ttl=300.0))
    code = book.issue("a", 100.0)
    assert book.expires_at("a") == 400.0
    with pytest.raises(CodeExpired) as error:
        book.verify("a", code, 400.0)
    assert error.value.reason == "code_expired"
    code = book.issue("b", 100.0)
    book.verify("b", code, 399.9)


def test_withdrawn_and_unknown_codes() -> None:
    """A withdrawn code, or a key with no code, raises NoCode."""
    book = OtpBook(random.Random(1))
    code = book.issue("ord", 0.0)
    book.withdraw("ord")
    with pytest.raises(NoCode):
        book.verify("ord", code, 1.0)
    with pytest.raises(NoCode):
        book.verify("other", code, 1.0)
    assert book.expires_at("other") is None and book.attempts_left("other") is None


def test_reissue_replaces_the_old_code() -> None:
    """Issuing again under the same key makes the old code wrong and resets the attempts."""
    book = OtpBook(random.Random(5))
    old = book.issue("ord", 0.0)
    new = book.issue("ord", 0.0)
    assert old != new
    with pytest.raises(WrongCode):
        book.verify("ord", old, 1.0)
    book.verify("ord", new, 1.0)


def test_verification_uses_a_constant_time_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code is compared with hmac.compare_digest (bytes, so any typed text is safe)."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    book = OtpBook(random.Random(1))
    code = book.issue("ord", 0.0)
    with pytest.raises(WrongCode):
        book.verify("ord", "验证码", 1.0)
    book.verify("ord", code, 1.0)
    assert calls == [(code.encode(), "验证码".encode()), (code.encode(), code.encode())]


def test_code_is_not_exposed() -> None:
    """The book's repr and state repr do not show the code."""
    book = OtpBook(random.Random(1))
    code = book.issue("ord", 0.0)
    assert code not in repr(book._records) and code not in repr(book)
