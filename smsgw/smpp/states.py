"""The SMPP session state machine, as two tables.

Theory of operation
-------------------
An SMPP session lives on one TCP connection. It starts OPEN (connected, not bound); a bind
moves it to BOUND_TX, BOUND_RX or BOUND_TRX, and the bind type decides which way messages may
flow: a transmitter submits, a receiver is delivered to, a transceiver does both. An unbind
from either side moves it to UNBOUND (the TCP connection is still up while the unbind is
answered and the last responses drain), and the connection's end is CLOSED.

``PERMITTED`` says which PDUs the ESME may send in each state (SMPP v3.4 Table 2-1, seen from
the SMSC). A PDU not in the set is answered, never dropped: a request gets its response with
ESME_RINVBNDSTS (ESME_RALYBND for a second bind), anything else a generic_nack. Two deliberate
leniencies beside SMPP v3.4 Table 2-1 (§2.3): enquire_link is accepted while OPEN (as v5.0 allows;
some ESMEs probe before binding), and replace_sm is accepted on a transceiver (3.4 prints
transmitter only, an evident omission).

``TRANSITIONS`` maps (state, what happened) to the next state. A pair missing from it is a
bug in the caller, not in the peer: the session checks permission before it transitions.

The ESME's side (:mod:`smsgw.smpp.esme`) runs the same states and the same ``TRANSITIONS``,
with the table read the other way round. ``PERMITTED`` is also what it may send (it never
sends what an SMSC would refuse); ``SMSC_PERMITTED`` is what it accepts from the SMSC. There a
request out of place is answered the same way (its response with ESME_RINVBNDSTS, else a
generic_nack) and a response out of place is dropped, as any response that answers nothing:
a generic_nack would name a sequence_number the SMSC uses for its own requests. The SMSC may
send data_sm to a transmitter (Table 2-1 allows it, though real SMSCs do not), and the ESME
does not take outbind (it connects on its own).
"""

from __future__ import annotations

import enum

from smsgw.smpp.constants import BindType
from smsgw.smpp.constants import CommandId as C


class SessionState(enum.Enum):
    """Where an SMPP session is in its life."""

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBOUND = "unbound"
    CLOSED = "closed"

    @property
    def is_bound(self) -> bool:
        """Whether a bind has been accepted and not yet ended."""
        return self in (SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX)


class Transition(enum.Enum):
    """What can happen to a session."""

    BOUND_TRANSMITTER = "bound_transmitter"
    BOUND_RECEIVER = "bound_receiver"
    BOUND_TRANSCEIVER = "bound_transceiver"
    UNBIND_RECEIVED = "unbind_received"
    UNBIND_SENT = "unbind_sent"
    CLOSED = "closed"


BIND_COMMANDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})

BIND_TYPE_OF: dict[int, BindType] = {
    C.BIND_TRANSMITTER: BindType.TRANSMITTER,
    C.BIND_RECEIVER: BindType.RECEIVER,
    C.BIND_TRANSCEIVER: BindType.TRANSCEIVER,
}

_ALWAYS = frozenset({C.ENQUIRE_LINK, C.ENQUIRE_LINK_RESP, C.GENERIC_NACK})
_BOUND = _ALWAYS | {C.UNBIND, C.UNBIND_RESP}
_SUBMITS = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
_RECEIVES = frozenset({C.DELIVER_SM_RESP, C.DATA_SM_RESP})

PERMITTED: dict[SessionState, frozenset[int]] = {
    SessionState.OPEN: BIND_COMMANDS | _ALWAYS,
    SessionState.BOUND_TX: _BOUND | _SUBMITS | {C.DATA_SM_RESP},
    SessionState.BOUND_RX: _BOUND | _RECEIVES,
    SessionState.BOUND_TRX: _BOUND | _SUBMITS | _RECEIVES,
    # Responses to what was outstanding when the unbind crossed still drain.
    SessionState.UNBOUND: _BOUND | _RECEIVES,
    SessionState.CLOSED: frozenset(),
}

_BOUND_STATES = (SessionState.BOUND_TX, SessionState.BOUND_RX, SessionState.BOUND_TRX)

TRANSITIONS: dict[tuple[SessionState, Transition], SessionState] = {
    (SessionState.OPEN, Transition.BOUND_TRANSMITTER): SessionState.BOUND_TX,
    (SessionState.OPEN, Transition.BOUND_RECEIVER): SessionState.BOUND_RX,
    (SessionState.OPEN, Transition.BOUND_TRANSCEIVER): SessionState.BOUND_TRX,
    **{(state, Transition.UNBIND_RECEIVED): SessionState.UNBOUND for state in _BOUND_STATES},
    **{(state, Transition.UNBIND_SENT): SessionState.UNBOUND for state in _BOUND_STATES},
    # Both sides may unbind at once: the crossing unbind is answered, the state stays.
    (SessionState.UNBOUND, Transition.UNBIND_RECEIVED): SessionState.UNBOUND,
    **{(state, Transition.CLOSED): SessionState.CLOSED for state in SessionState},
}

BOUND_STATE_OF: dict[BindType, Transition] = {
    BindType.TRANSMITTER: Transition.BOUND_TRANSMITTER,
    BindType.RECEIVER: Transition.BOUND_RECEIVER,
    BindType.TRANSCEIVER: Transition.BOUND_TRANSCEIVER,
}

_SUBMIT_ANSWERS = frozenset(
    {
        C.SUBMIT_SM_RESP,
        C.SUBMIT_MULTI_RESP,
        C.DATA_SM_RESP,
        C.QUERY_SM_RESP,
        C.CANCEL_SM_RESP,
        C.REPLACE_SM_RESP,
    }
)
_DELIVERIES = frozenset({C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION})
BIND_ANSWERS = frozenset({C.BIND_TRANSMITTER_RESP, C.BIND_RECEIVER_RESP, C.BIND_TRANSCEIVER_RESP})

#: What the SMSC may send in each state: what the ESME accepts (v3.4 Table 2-1, seen from the ESME).
SMSC_PERMITTED: dict[SessionState, frozenset[int]] = {
    SessionState.OPEN: BIND_ANSWERS | _ALWAYS,
    SessionState.BOUND_TX: _BOUND | _SUBMIT_ANSWERS | {C.DATA_SM},
    SessionState.BOUND_RX: _BOUND | _DELIVERIES,
    SessionState.BOUND_TRX: _BOUND | _SUBMIT_ANSWERS | _DELIVERIES,
    # Answers to the requests outstanding when the unbind crossed still drain; deliveries do not.
    SessionState.UNBOUND: _BOUND | _SUBMIT_ANSWERS,
    SessionState.CLOSED: frozenset(),
}
