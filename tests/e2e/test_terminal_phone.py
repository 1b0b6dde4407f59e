"""The terminal phone in a pseudo-terminal: a person's keys in, the screen out, SMPP at the far end.

The phone runs as ``python -m simulators.terminal_phone`` on the slave side of a pty; the test
types on the master side and reads what the phone draws into :class:`VirtualScreen`, a tiny
terminal emulator (cursor moves, erase, wide characters), so assertions are about what a
person would see now, not about escape sequences. Every read has a deadline; the only waits
are ``select`` on the pty.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import smpplib.command

from simulators.terminal_phone.text import text_width, wrap
from tests.e2e.conftest import SHORT_CODE, Esme, Smsgw, connect, server  # noqa: F401

pytestmark = pytest.mark.e2e

# smpplib 2.2.4 cannot parse a deliver_sm carrying ussd_service_op (docs/ussd.md has the recipe).
if "ussd_service_op" not in smpplib.command.DeliverSM.params:
    smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)
    smpplib.command.DeliverSM.params_order += ("ussd_service_op",)

PSSR_INDICATION, USSR_REQUEST, PSSR_RESPONSE, USSR_CONFIRM, USSD_ABORT = 1, 2, 17, 18, 0x81

ROOT = Path(__file__).resolve().parents[2]
COLUMNS, ROWS = 80, 24
#: Generous for a loaded 2-core machine; a passing run waits far less.
DEADLINE = 10.0

#: One UCS-2 part (at most 70 characters), wider than the phone's screen, so it wraps.
TEXT = "您的验证码是 482913，五分钟内有效。请勿告诉他人。Reply YES 482913 to confirm 支付。"
REPLY = "好的 YES 482913"


# -- a tiny terminal -------------------------------------------------------------------------


def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class VirtualScreen:
    """Just enough of an xterm for the phone: text, CR/LF, CUP, ED, EL; other sequences ignored.

    A wide character takes its cell and the next one (held as ``""``).
    """

    _SEQUENCE = re.compile(r"\x1b\[([0-?]*)[ -/]*([@-~])|\x1b[^\[]")

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.cells = [[" "] * columns for _ in range(rows)]
        self.row = self.col = 0
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def text(self) -> str:
        """The screen as lines of text, trailing spaces removed."""
        return "\n".join("".join(row).rstrip() for row in self.cells)

    def feed(self, data: bytes) -> None:
        """Apply output octets (sequences may be cut anywhere)."""
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b":
                match = self._SEQUENCE.match(text, i)
                if match is None:  # cut off: wait for the rest
                    self._pending = text[i:]
                    return
                if match.group(2):
                    self._control(match.group(1), match.group(2))
                i = match.end()
                continue
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self._line_feed()
            elif char == "\b":
                self.col = max(self.col - 1, 0)
            elif unicodedata.category(char) != "Cc":
                self._put(char)
            i += 1

    def _line_feed(self) -> None:
        if self.row == self.rows - 1:
            self.cells = self.cells[1:] + [[" "] * self.columns]
        else:
            self.row += 1

    def _put(self, char: str) -> None:
        width = _width(char)
        if width == 0:
            return
        if self.col + width > self.columns:  # xterm wraps before the character that does not fit
            self.col = 0
            self._line_feed()
        self.cells[self.row][self.col] = char
        if width == 2:
            self.cells[self.row][self.col + 1] = ""
        self.col += width

    def _control(self, params: str, final: str) -> None:
        numbers = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")]
        if final in "Hf":
            row = numbers[0] if numbers and numbers[0] else 1
            col = numbers[1] if len(numbers) > 1 and numbers[1] else 1
            self.row, self.col = min(row, self.rows) - 1, min(col, self.columns) - 1
        elif final == "K":
            self.cells[self.row][self.col :] = [" "] * (self.columns - self.col)
        elif final == "J":
            mode = numbers[0] if numbers else 0
            first = 0 if mode == 2 else self.row + 1
            if mode != 2:
                self.cells[self.row][self.col :] = [" "] * (self.columns - self.col)
            for row in range(first, self.rows):
                self.cells[row] = [" "] * self.columns
        elif final in "hl" and params.startswith("?") and 1049 in numbers:  # alternate screen
            self.cells = [[" "] * self.columns for _ in range(self.rows)]


def squeeze(text: str) -> str:
    """``text`` without any white space, to find a wrapped text on the screen."""
    return "".join(text.split())


# -- the phone in a pty -------------------------------------------------------------------


class PhoneInPty:
    """``python -m simulators.terminal_phone MSISDN --api URL`` on a pseudo-terminal."""

    def __init__(self, msisdn: str, api_url: str) -> None:
        argv = [sys.executable, "-m", "simulators.terminal_phone", msisdn, "--api", api_url]
        env = dict(os.environ, TERM="xterm", COLUMNS=str(COLUMNS), LINES=str(ROWS), LANG="C.UTF-8")
        self.screen = VirtualScreen(COLUMNS, ROWS)
        self.transcript = b""
        self.status: int | None = None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: never return into pytest
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
                os.chdir(ROOT)
                os.execve(sys.executable, argv, env)
            finally:
                os._exit(127)

    def _read(self, timeout: float) -> bool:
        """Read what the phone drew within ``timeout``; False once the pty is closed."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the phone exited and closed the slave
            return False
        if not data:
            return False
        self.transcript += data
        self.screen.feed(data)
        return True

    def expect(self, wanted: str | Callable[[str], bool], timeout: float = DEADLINE) -> str:
        """Wait until the screen shows ``wanted`` (text, or a test of the screen); return the screen."""
        test = wanted if callable(wanted) else (lambda screen: wanted in screen)
        deadline = time.monotonic() + timeout
        while not test(self.screen.text()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(min(remaining, 0.5)):
                raise AssertionError(f"the screen never showed {wanted!r}; it shows:\n{self.screen.text()}")
        return self.screen.text()

    def press(self, keys: str) -> None:
        """Type ``keys`` as a person would (``\\r`` is Enter, ``\\x1b`` is Esc)."""
        os.write(self.fd, keys.encode("utf-8"))

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        """Wait until the phone exits; return its exit status."""
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            if time.monotonic() >= deadline:
                raise AssertionError(f"the phone did not exit; it shows:\n{self.screen.text()}")
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() >= deadline:
                raise AssertionError("the phone closed its terminal but did not exit")
            else:
                select.select([], [], [], 0.02)
        return self.status

    def tty_mode(self) -> list[Any]:
        """The terminal's settings as the phone left them."""
        return termios.tcgetattr(self.fd)

    def close(self) -> None:
        """Kill the phone if it still runs, and close the pty."""
        if self.status is None:
            with contextlib.suppress(ChildProcessError):  # it ended (and was reaped) on its own
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def phone_in_pty(server: Smsgw) -> Iterator[Callable[[str], PhoneInPty]]:  # noqa: F811
    """``phone_in_pty(msisdn)`` starts a terminal phone on the module's server; killed at teardown."""
    phones: list[PhoneInPty] = []

    def start(msisdn: str) -> PhoneInPty:
        phone = PhoneInPty(msisdn, server.ports["http_url"])
        phones.append(phone)
        return phone

    yield start
    for phone in phones:
        phone.close()


def mo_text(pdu: Any) -> str:
    """The text of a deliver_sm (smpplib PDU) as the ESME decodes it."""
    body = bytes(pdu.short_message)
    return body.decode("utf-16-be") if pdu.data_coding == 8 else body.decode("ascii")


def ussd_submit(esme: Esme, msisdn: str, text: str, op: int, session_info: int | None = None) -> None:
    """The ESME shows a USSD screen on the handset (its submit_sm must be accepted)."""
    fields: dict[str, Any] = {"service_type": "USSD", "registered_delivery": 0, "ussd_service_op": op}
    if session_info is not None:
        fields["its_session_info"] = session_info
    response = esme.submit(msisdn, text, source_addr="*126#", **fields)
    assert response.status == 0, response.status


# -- tests -------------------------------------------------------------------------------------


def test_a_person_sees_an_sms_land_reads_it_and_replies(
    server: Smsgw,  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
    phone_in_pty: Callable[[str], PhoneInPty],
) -> None:
    """An ESME's SMS pops up unasked, opens in full (Chinese, wrapped), and R replies to the short code."""
    msisdn = "8613800000031"
    status, _ = server.api("PATCH", f"/api/handsets/{msisdn}", {"name": "Terminal Tester"})
    assert status == 200
    receiver: Esme = connect(server)
    receiver.bind("receiver")
    sender: Esme = connect(server)
    sender.bind("transmitter")

    phone = phone_in_pty(msisdn)
    # "Inbox (0)" means the inbox is loaded, so the long poll covers everything from here on.
    screen = phone.expect("Inbox (0)")
    assert "Terminal Tester" in screen and f"+{msisdn}" in screen and " ON " in screen

    sender.submit_ok(msisdn, TEXT.encode("utf-16-be"), data_coding=8, registered_delivery=0)
    screen = phone.expect(f"New message from {SHORT_CODE}")  # no key pressed
    assert "1 Inbox (1, 1 new)" in screen

    phone.press("1")
    screen = phone.expect(lambda s: "Inbox" in s and f"● {SHORT_CODE}" in s)
    assert "您的验证码是" in screen  # the first line of the text, on the sender's line

    phone.press("\r")
    screen = phone.expect(f"From: {SHORT_CODE}")
    assert squeeze(TEXT) in squeeze(screen), screen
    assert all(text_width(line) <= COLUMNS for line in screen.splitlines())

    phone.press("r")
    phone.expect(f"To: {SHORT_CODE}")
    phone.press(REPLY)
    phone.expect(REPLY)
    phone.press("\r")
    screen = phone.expect(f"Sent to {SHORT_CODE}")
    assert "1 part" in screen

    (mo,) = receiver.wait_deliveries(1, timeout=DEADLINE)
    assert bytes(mo.source_addr).decode() == msisdn
    assert bytes(mo.destination_addr).decode() == SHORT_CODE
    assert mo_text(mo) == REPLY

    phone.press("\r")  # closes "Sent", back to the message
    phone.expect(f"From: {SHORT_CODE}")
    phone.press("\x1b")
    phone.expect("Enter Open")  # the inbox list
    phone.press("\x1b")
    phone.expect("1 Inbox (1)")  # the menu; the message has been read
    phone.press("0")
    assert phone.wait_exit() == 0
    assert phone.transcript.endswith(b"\x1b[?1049l")  # back on the normal screen


def test_a_refused_send_shows_why_and_ctrl_c_restores_the_terminal(
    server: Smsgw,  # noqa: F811
    phone_in_pty: Callable[[str], PhoneInPty],
) -> None:
    """The API's reason for refusing a text is shown; Ctrl-C quits with 0 and echo back on."""
    phone = phone_in_pty("8613800000032")
    phone.expect("Inbox (0)")
    phone.press("2")
    phone.expect("Enter Next")
    phone.press("+1\r")
    phone.expect("Enter Send")
    phone.press("hello\r")
    screen = phone.expect("Not sent")
    assert "destination '+1' is not a phone number" in screen
    phone.press("\x03")
    assert phone.wait_exit() == 0
    assert phone.transcript.endswith(b"\x1b[?1049l")
    assert phone.tty_mode()[3] & termios.ECHO


def test_a_person_dials_a_ussd_menu_answers_it_and_dismisses_the_end(
    server: Smsgw,  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
    phone_in_pty: Callable[[str], PhoneInPty],
) -> None:
    """* opens the dial line; *126# reaches the ESME; its menu shows with a reply line; 2 + Enter goes back; the end shows until OK."""
    msisdn = "8613800000033"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    phone = phone_in_pty(msisdn)
    phone.expect("Inbox (0)")

    phone.press("*126#")
    screen = phone.expect(lambda s: "Enter Call" in s and "*126#" in s)
    phone.press("\r")
    phone.expect("USSD code running…")  # the ESME has not answered yet

    (indication,) = esme.wait_deliveries(1, timeout=DEADLINE)
    assert (indication.ussd_service_op, bytes(indication.short_message)) == (PSSR_INDICATION, b"*126#")
    assert bytes(indication.source_addr).decode() == msisdn
    session = indication.its_session_info
    ussd_submit(esme, msisdn, "1 Pay merchant\n2 My balance", USSR_REQUEST, session)
    screen = phone.expect("2 My balance")
    assert "1 Pay merchant" in screen and "Enter Send" in screen
    assert " >" in screen.splitlines()  # the empty reply line

    phone.press("2")
    phone.expect("> 2")
    phone.press("\r")
    confirm = esme.wait_deliveries(2, timeout=DEADLINE)[1]
    assert (confirm.ussd_service_op, bytes(confirm.short_message)) == (USSR_CONFIRM, b"2")
    assert confirm.its_session_info == session
    ussd_submit(esme, msisdn, "Balance: 120.00 CNY", PSSR_RESPONSE, session)
    screen = phone.expect("Balance: 120.00 CNY")
    assert "Enter OK" in screen and "My balance" not in screen and " >" not in screen.splitlines()

    phone.press("\r")  # OK
    screen = phone.expect("1 Inbox (0)")
    assert "Balance" not in screen
    status, dialogue = server.api("GET", f"/api/handsets/{msisdn}/ussd")
    assert status == 200 and dialogue["state"] == "closed" and dialogue["inputs"] == ["2"]
    phone.press("0")
    assert phone.wait_exit() == 0


def test_a_pushed_ussd_prompt_pops_up_and_esc_cancels_it(
    server: Smsgw,  # noqa: F811
    connect: Callable[..., Any],  # noqa: F811
    phone_in_pty: Callable[[str], PhoneInPty],
) -> None:
    """An ESME's USSR request to the idle phone shows without a key press; Esc reaches the ESME as an abort."""
    msisdn = "8613800000034"
    esme: Esme = connect(server)
    esme.bind("transceiver")
    phone = phone_in_pty(msisdn)
    phone.expect("Inbox (0)")

    ussd_submit(esme, msisdn, "Pay 25.00 CNY to ShopX?\n1 Confirm\n2 Cancel", USSR_REQUEST)
    screen = phone.expect("Pay 25.00 CNY to ShopX?")  # no key pressed
    assert "1 Confirm" in screen and "2 Cancel" in screen and "Esc Cancel" in screen

    phone.press("\x1b")
    (abort,) = esme.wait_deliveries(1, timeout=DEADLINE)
    assert abort.ussd_service_op == USSD_ABORT and abort.its_session_info & 1 == 1
    screen = phone.expect("1 Inbox (0)")
    assert "ShopX" not in screen
    status, dialogue = server.api("GET", f"/api/handsets/{msisdn}/ussd")
    assert status == 200 and dialogue["state"] == "closed" and "cancel" in dialogue["end_reason"]
    phone.press("0")
    assert phone.wait_exit() == 0


def test_wrapping_counts_chinese_as_two_columns() -> None:
    """Wrapped lines never exceed the width, and lose nothing but the spaces they break at."""
    for width in (7, 13, 20, 38):
        lines = wrap(TEXT, width)
        assert all(text_width(line) <= width for line in lines), (width, lines)
        assert squeeze("".join(lines)) == squeeze(TEXT)
