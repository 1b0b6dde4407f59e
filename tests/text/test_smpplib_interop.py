"""Cross-checks of smsgw.text against smpplib 2.2.4, our interop test client."""

from __future__ import annotations

import pytest
import smpplib.gsm

from smsgw.text.errors import NotEncodable
from smsgw.text.gsm import decode_gsm, encode_gsm, is_gsm
from smsgw.text.split import split_text

# smpplib fills unused slots of its 256-position table with backticks, so a backtick is never a
# real character there; every other character of its table is one both tables should agree on.
SMPPLIB_CHARS = sorted(set(smpplib.gsm.GSM_CHARACTER_TABLE) - {"`", "\x1b"})


def test_every_shared_character_encodes_like_smpplib() -> None:
    """Each character smpplib and we both know encodes to the same septets, one by one and all at once."""
    shared = [char for char in SMPPLIB_CHARS if is_gsm(char)]
    assert len(shared) == len(SMPPLIB_CHARS)  # we know every character smpplib knows
    for char in shared:
        assert encode_gsm(char) == smpplib.gsm.gsm_encode(char), char
    text = "".join(shared)
    assert encode_gsm(text) == smpplib.gsm.gsm_encode(text)
    assert decode_gsm(smpplib.gsm.gsm_encode(text)) == text


def test_known_differences_from_smpplib() -> None:
    """smpplib's table has a backtick placeholder at 0x5F instead of § and lacks form feed; we follow 23.038.

    smpplib 2.2.4 cannot encode § or form feed, and silently turns a backtick into
    0x5F (which a handset shows as §), whereas we encode § as 0x5F and form feed as 1B 0A, and refuse
    the backtick, which is not in the GSM alphabet.
    """
    assert encode_gsm("§") == b"\x5f"
    assert encode_gsm("\f") == b"\x1b\x0a"
    with pytest.raises(UnicodeError):
        smpplib.gsm.gsm_encode("§")
    with pytest.raises(UnicodeError):
        smpplib.gsm.gsm_encode("\f")
    assert smpplib.gsm.gsm_encode("`") == b"\x5f"
    with pytest.raises(NotEncodable):
        encode_gsm("`")


def test_udh_parts_match_smpplib_make_parts() -> None:
    """For a text without extension characters our UDH parts equal smpplib's apart from its random reference."""
    text = "The quick brown fox jumps over the lazy dog. " * 9
    theirs, encoding, esm_class = smpplib.gsm.make_parts(text)
    ours = split_text(text, ref=0)
    assert (encoding, esm_class) == (0, 0x40)
    assert len(ours) == len(theirs)
    for our_part, their_part in zip(ours, theirs):
        assert our_part.short_message[:3] + our_part.short_message[4:] == their_part[:3] + their_part[4:]
