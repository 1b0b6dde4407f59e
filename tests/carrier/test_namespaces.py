"""Binds in namespaces: which of an account's binds gets an MO, a receipt or a USSD screen.

A bind declares its namespace in address_range (``ns:NAME``); a delivery for a handset of
namespace N goes to the account's binds of the innermost namespace holding N that has any
bound, binds of no namespace last; a namespace's reset drops what it still owes.
"""

from __future__ import annotations

from smsgw.carrier.ussd import UssdRoute
from smsgw.smpp.constants import CommandId
from smsgw.smpp.sm import DeliverSm
from tests.carrier.helpers import Link, make_carrier, submit


def _mo_senders(link: Link) -> list[str]:
    pdus = [p for p in link.read() if isinstance(p, DeliverSm)]
    link.ack(pdus)
    return [p.source_addr for p in pdus]


def test_an_mo_goes_to_the_binds_of_its_handsets_namespace() -> None:
    """MO of a handset in ci-1 reaches the ci-1 bind; ci-2's reaches ci-2's; a handset in a
    namespace with no bind of its own (ci-3), or in none, reaches the bind of no namespace."""
    carrier = make_carrier()
    first = Link(carrier, address_range="ns:ci-1")
    second = Link(carrier, address_range="ns:ci-2")
    plain = Link(carrier)
    for msisdn, namespace in (
        ("8617000000001", "ci-1"),
        ("8617000000002", "ci-2"),
        ("8617000000003", "ci-3"),
    ):
        carrier.handsets.create(msisdn, namespace=namespace)
        carrier.handsets.send_sms(msisdn, "12345", "YES 1")
    carrier.handsets.send_sms("8613800000001", "12345", "YES 2")
    assert _mo_senders(first) == ["8617000000001"]
    assert _mo_senders(second) == ["8617000000002"]
    assert sorted(_mo_senders(plain)) == ["8613800000001", "8617000000003"]


def test_an_mo_waits_for_its_namespace_rather_than_reach_another() -> None:
    """With only another namespace's bind up, an MO waits; it goes to a bind of a namespace
    holding its own (run-1 holds run-1.7) as soon as one binds."""
    carrier = make_carrier()
    other = Link(carrier, address_range="ns:ci-2")
    carrier.handsets.create("8617000000007", namespace="run-1.7")
    carrier.handsets.send_sms("8617000000007", "12345", "YES 7")
    carrier.handsets.send_sms("8613800000001", "12345", "YES 0")
    assert _mo_senders(other) == []
    run = Link(carrier, address_range="ns:run-1")
    assert _mo_senders(run) == ["8617000000007"]
    assert _mo_senders(other) == []


def test_a_receipt_whose_bind_has_gone_stays_in_its_namespace() -> None:
    """A receipt goes to the bind that submitted; when that bind has gone, to its handset's
    namespace's bind, not to another namespace's."""
    carrier = make_carrier()
    carrier.handsets.create("8617000000001", namespace="ci-1")
    carrier.handsets.set_state("8617000000001", carrier.subscribers.get("8617000000001").state.OFF)  # type: ignore[union-attr]
    submitter = Link(carrier, address_range="ns:ci-1")
    submitter.send(submit("8617000000001"))
    submitter.read()
    carrier.unbound(submitter.smpp.binding, [], "gone")
    other = Link(carrier, address_range="ns:ci-2")
    successor = Link(carrier, address_range="ns:ci-1")
    carrier.handsets.set_state("8617000000001", carrier.subscribers.get("8617000000001").state.ON)  # type: ignore[union-attr]
    assert [p.command_id for p in other.read()] == []
    (receipt,) = successor.read()
    assert receipt.command_id == CommandId.DELIVER_SM and receipt.esm_class == 0x04


def test_a_namespace_reset_drops_what_it_still_owes() -> None:
    """The MO of a reset namespace's handsets that no bind took is dropped (DELETED), so a
    later catch-all bind does not get it."""
    carrier = make_carrier()
    carrier.handsets.create("8617000000001", namespace="ci-1")
    (mo_id,) = carrier.handsets.send_sms("8617000000001", "12345", "YES 1")
    assert carrier.handsets.drop_owed({"8617000000001"}) == 1
    carrier.handsets.delete("8617000000001")
    plain = Link(carrier)
    assert _mo_senders(plain) == []
    carrier.flush()
    assert carrier.outbox.pending("shop") == 0


def test_a_bind_naming_no_valid_namespace_is_refused() -> None:
    """address_range ``ns:`` with nothing valid after it is refused with ESME_RBINDFAIL."""
    carrier = make_carrier()
    for bad in ("ns:", "ns:-x", "ns:a b"):
        assert not Link(carrier, address_range=bad).bound
    assert Link(carrier, address_range="^123").bound  # other address_range values are ignored


def test_a_ussd_dialogue_stays_with_the_bind_that_answered_it() -> None:
    """A dial goes to the bind of the handset's namespace; the user's answer goes back to
    the bind that showed the menu, not round robin to another bind of the account."""
    carrier = make_carrier(ussd_routes=(UssdRoute("*126#", system_id="shop"),))
    mine = Link(carrier, address_range="ns:ci-1")
    theirs = Link(carrier, address_range="ns:ci-2")
    carrier.handsets.create("8617000000001", namespace="ci-1")
    dialogue = carrier.handset_ussd.dial("8617000000001", "*126#")
    (dial,) = mine.read()
    assert theirs.read() == [] and dial.ussd_service_op == 1
    mine.send(
        submit(
            "8617000000001",
            registered_delivery=0,
            service_type="USSD",
            ussd_service_op=2,
            its_session_info=dialogue.its_session_info,
        )
    )
    carrier.ussd.reply("8617000000001", "1", carrier.clock.now())
    answers = [p for p in mine.read() if isinstance(p, DeliverSm)]
    assert [p.ussd_service_op for p in answers] == [18] and theirs.read() == []
