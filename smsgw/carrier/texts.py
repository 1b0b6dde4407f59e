"""Texts a handset sends: MO to the account that owns a short code, or P2P to another handset.

A phone encodes its text as phones do (GSM 7-bit when it fits, else UCS2) and splits a long
one; each part is a stored message of its own, numbered by the
:class:`~smsgw.carrier.center.MessageCenter` like every other, so message_ids never repeat.
"""

from __future__ import annotations

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.center import DELIVRD, ENROUTE, MessageCenter, format_message_id
from smsgw.carrier.errors import Refusal, Rejected
from smsgw.carrier.outbox import Outbox
from smsgw.carrier.subscribers import Subscriber
from smsgw.smpp.constants import EsmClass, Npi, Ton
from smsgw.store.interface import MessageStore
from smsgw.store.records import MessageRecord
from smsgw.text.coding import Alphabet
from smsgw.text.split import Mode as SplitMode
from smsgw.text.split import Part, split_text


class HandsetTexts:
    """Accepts the texts handsets send.

    :param default_system_id: the account that receives MO for short codes nobody owns.
    """

    def __init__(
        self,
        store: MessageStore,
        accounts: AccountRegistry,
        center: MessageCenter,
        outbox: Outbox,
        default_system_id: str | None,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.center = center
        self.outbox = outbox
        self.default_system_id = default_system_id
        self._reference = 0

    def route_short_code(self, destination: str) -> str:
        """The account that receives MO sent to a short code.

        :raises Rejected: UNKNOWN_DESTINATION when no account owns it and there is no default.
        """
        system_id = self.accounts.owner_of_short_code(destination) or self.default_system_id
        if system_id is None or self.accounts.get(system_id) is None:
            raise Rejected(
                Refusal.UNKNOWN_DESTINATION,
                f"no account owns short code {destination!r} and there is no default account",
            )
        return system_id

    def accept_mo(self, msisdn: str, destination: str, text: str, now: float) -> list[str]:
        """A handset sends a text to a short code: store it and queue it for the owner.

        The text is encoded as a phone would (GSM 7-bit when it fits, else UCS2); a long one is
        split the way the receiving account asks: UDH (the default), SAR TLVs, or one
        deliver_sm with message_payload.

        :returns: the message_id of each part.
        :raises Rejected: when nobody owns the short code.
        """
        system_id = self.route_short_code(destination)
        account = self.accounts.get(system_id)
        mode: SplitMode = account.long_mo if account is not None else "udh"
        # CMPP has no GSM alphabet: its SPs get ASCII (Msg_Fmt 0) or UCS2.
        alphabet: Alphabet = (
            "gsm" if account is None else "ascii" if account.protocol == "cmpp" else account.data_coding_0
        )
        encoder = self.center.encoder_for(account)
        ids = []
        for part in self._split(text, mode, alphabet):
            record = self._new_part(system_id, "MO", msisdn, msisdn, destination, part, now)
            record.report = ENROUTE  # the MO itself is owed to the account
            self.store.insert_message(record.as_row())
            self.center.announce(record)
            sent_at = record.submitted_at  # on the sender's clock
            self.outbox.add(record, "mo", encoder.mo(record, sent_at), sent_at)
            ids.append(record.message_id)
        return ids

    def accept_p2p(
        self, sender: str, recipient: Subscriber, text: str, now: float, validity: float
    ) -> list[str]:
        """A handset texts another handset: the sender's sent box gets the MO, the recipient
        gets the MT now, or when its phone is reachable within ``validity`` seconds.

        :returns: the message_id of each MT part (what the recipient's inbox shows).
        """
        ids = []
        for part in self._split(text, "udh"):
            sent = self._new_part("", "MO", sender, sender, recipient.msisdn, part, now)
            # Handed to the network: the phone's "sent".
            sent.state, sent.done_at = DELIVRD, sent.submitted_at
            self.store.insert_message(sent.as_row())
            self.center.announce(sent)
            record = self._new_part("", "MT", recipient.msisdn, sender, recipient.msisdn, part, now)
            record.dest_ton = Ton.INTERNATIONAL
            received_at = record.submitted_at  # on the recipient's clock
            record.expires_at = received_at + validity
            self.center.deliver_or_hold(record, recipient, received_at)
            ids.append(record.message_id)
        return ids

    def _split(self, text: str, mode: SplitMode, alphabet: Alphabet = "gsm") -> list[Part]:
        self._reference = (self._reference + 1) & 0xFF
        return split_text(text, ref=self._reference, mode=mode, alphabet=alphabet)

    def _new_part(
        self,
        system_id: str,
        direction: str,
        msisdn: str,
        source: str,
        destination: str,
        part: Part,
        now: float,
    ) -> MessageRecord:
        """A message row for one part a handset sends (MO to an ESME, or either side of P2P),
        its times on the clock of ``msisdn``'s namespace.

        :param now: the carrier's time.
        """
        row_id = self.center.next_row()
        account = self.accounts.get(system_id)  # none for P2P: its ids are decimal
        # An MO's id is in its account's format, so it never repeats one of that account's MTs.
        message_id = format_message_id(row_id, account.message_id_format, now) if account else str(row_id)
        esm_class = int(EsmClass.UDHI) if part.esm_class_udhi else 0
        sar = part.sar or (None, None, None)
        record = MessageRecord(
            row_id, message_id, system_id, direction, msisdn, "",
            Ton.INTERNATIONAL, Npi.ISDN, source, Ton.UNKNOWN, Npi.ISDN, destination,
            esm_class, 0, 0, 0, part.data_coding, part.short_message, sar[0], sar[1], sar[2],
            now, None, now + self.outbox.retry.validity, ENROUTE, None, 0,
        )  # fmt: skip
        record.namespace = self.center.clocks.namespace_of(msisdn)
        self.center.into_frame(record, now)
        return record
