"""SMPP v3.4's front end: ESME sessions joined to the carrier, without I/O.

- :mod:`.link`: one session as the carrier's link to an application (binds, requests,
  the answers to deliveries).
- :mod:`.requests` and :mod:`.checks`: a PDU decoded into the carrier's protocol-neutral
  request, each field checked with the status the spec gives.
- :mod:`.statuses`: the carrier's refusals as command_status values.
- :mod:`.deliveries`: receipts, MO and USSD screens encoded as deliver_sm, in each account's
  dialect.
- :mod:`.pdulog`: the PDUs of recent messages, for the console.
"""
