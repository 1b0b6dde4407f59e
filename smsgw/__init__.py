"""smsgw: a fake mobile carrier (SMPP v3.4 SMSC, USSD gateway, virtual handsets)."""

__version__ = "0.1.0"
