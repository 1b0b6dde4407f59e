"""Calls HTTP USSD applications in the CON/END style of Africa's Talking's USSD API (docs/ussd.md).

One form-encoded POST per user step: ``sessionId``, ``serviceCode``, ``phoneNumber`` (E.164
with ``+``), ``networkCode`` and ``text``, the user's inputs so far joined with ``*``. The body
that comes back starts with ``CON `` (show it, wait for input) or ``END `` (show it, close);
anything else, an HTTP error, or no answer in time ends the dialogue.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.client import Agent
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from smsgw.carrier.clock import Clock
from smsgw.carrier.ussd import Dialogue, UssdGateway
from smsgw.web.body import read_body

log = Logger(namespace="smsgw.ussd")
NETWORK_CODE = "99999"  # Africa's Talking's sandbox network
#: The longest answer taken: a screen is at most 182 characters (4 octets each in UTF-8), plus "CON ".
MAX_ANSWER = 4096


@implementer(IBodyProducer)
class _Form:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> defer.Deferred[None]:
        consumer.write(self.body)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        """Nothing to pause: the whole body is written at once in startProducing."""

    def stopProducing(self) -> None:
        """Nothing to stop, for the same reason."""


class HttpUssdApps:
    """Posts to the HTTP applications of the USSD routes and hands their answers to the gateway.

    :param after_answer: called after an answer changed a dialogue (commit, wake waiters).
    """

    def __init__(self, gateway: UssdGateway, clock: Clock, reactor: Any, after_answer: Any) -> None:
        self.gateway = gateway
        self.clock = clock
        self.reactor = reactor
        self.after_answer = after_answer
        self.agent = Agent(reactor)

    def post(self, dialogue: Dialogue, text: str) -> None:
        """One step of the dialogue; the answer arrives later."""
        assert dialogue.route.url is not None
        form = urlencode(
            {
                "sessionId": f"smsgw-{dialogue.session}",
                "serviceCode": dialogue.code,
                "phoneNumber": f"+{dialogue.msisdn}",
                "networkCode": NETWORK_CODE,
                "text": text,
            }
        ).encode()
        headers = Headers({b"content-type": [b"application/x-www-form-urlencoded"]})
        request = self.agent.request(b"POST", dialogue.route.url.encode(), headers, _Form(form))
        request.addTimeout(self.gateway.limits.app_timeout, self.reactor)
        request.addCallback(self._read, dialogue)
        request.addCallbacks(self._answered, self._failed, callbackArgs=(dialogue,), errbackArgs=(dialogue,))

    @staticmethod
    def _read(response: Any, dialogue: Dialogue) -> Any:
        if response.code >= 400:
            raise ValueError(f"HTTP {response.code} from {dialogue.route.url}")
        return read_body(response, MAX_ANSWER)

    def _answered(self, body: bytes, dialogue: Dialogue) -> None:
        text = body.decode("utf-8", "replace")
        now = self.clock.now()
        if text.startswith(("CON ", "END ")) or text in ("CON", "END"):
            self.gateway.app_said(dialogue.session, text[4:], expects_reply=text.startswith("CON"), now=now)
        else:
            reason = f"{dialogue.route.url} answered {text[:40]!r}, not CON … or END …"
            log.warn(
                "USSD session {session} ({msisdn}): {reason}",
                session=dialogue.session,
                msisdn=dialogue.msisdn,
                reason=reason,
            )
            self.gateway.app_failed(dialogue.session, reason, now)
        self.after_answer()

    def _failed(self, failure: Any, dialogue: Dialogue) -> None:
        reason = f"{dialogue.route.url}: {failure.getErrorMessage()}"
        log.warn(
            "USSD session {session} ({msisdn}): {reason}",
            session=dialogue.session,
            msisdn=dialogue.msisdn,
            reason=reason,
        )
        self.gateway.app_failed(dialogue.session, reason, self.clock.now())
        self.after_answer()
