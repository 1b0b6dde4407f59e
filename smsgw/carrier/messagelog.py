"""The message log as the API and the console read it: every stored part, MT and MO, by
filter or by the message_id its ESME was given."""

from __future__ import annotations

from collections.abc import Collection

from smsgw.carrier.accounts import AccountRegistry
from smsgw.carrier.center import parse_message_id
from smsgw.store.interface import MessageStore
from smsgw.store.records import MessageRecord

#: How a message_id can be read back into a row id; decimal10 reads as decimal.
_ID_STYLES = ("decimal", "hex", "cmpp")


class MessageLog:
    """Reads of the stored messages, with the text decoded as the account meant it."""

    def __init__(self, store: MessageStore, accounts: AccountRegistry) -> None:
        self.store = store
        self.accounts = accounts

    def search(
        self,
        *,
        among: Collection[str] | None = None,
        msisdn: str | None = None,
        system_id: str | None = None,
        state: int | None = None,
        direction: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[MessageRecord]:
        """Parts matching every given filter, newest first; ``among`` limits them to those MSISDNs."""
        return self.store.find_messages(
            among=among,
            msisdn=msisdn,
            system_id=system_id,
            state=state,
            direction=direction,
            before=before,
            limit=limit,
        )

    def by_message_id(
        self, message_id: str, account: str | None = None, direction: str | None = None
    ) -> list[MessageRecord]:
        """The parts a message_id names among those of ``account`` and ``direction`` (MT, MO).

        Each account formats its ids from the row id (decimal, hex, decimal10, cmpp), so a
        message_id names at most one row per way of reading it: three lookups by row id, no
        scan. Two accounts' ids, or ids stored before an account changed its format, can
        still be the same string: then more than one comes back, and the caller says which.
        """
        found: dict[int, MessageRecord] = {}
        for style in _ID_STYLES:
            row_id = parse_message_id(message_id, style)
            if row_id is None or row_id in found:
                continue
            record = self.store.get_message(row_id)
            if (
                record is not None
                and record.message_id == message_id
                and (account is None or record.system_id == account)
                and (direction is None or record.direction == direction)
            ):
                found[row_id] = record
        return list(found.values())

    def with_messages(self) -> list[str]:
        """The MSISDNs that have messages (at most 1000)."""
        return self.store.msisdns()

    def text_coding(self, record: MessageRecord) -> int:
        """The data_coding to read a stored message's text with: data_coding 0 from an
        account whose ESME means Latin-1 by it reads as Latin-1 (3)."""
        if record.data_coding == 0 and record.direction == "MT":
            account = self.accounts.get(record.system_id)
            if account is not None and account.data_coding_0 == "latin-1":
                return 0x03
        return record.data_coding
