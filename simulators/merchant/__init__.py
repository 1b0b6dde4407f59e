"""The mock merchant's domain core: wallets, one-time codes, orders and USSD dialogues.

This package is sans-I/O. Its inputs are method calls carrying ``now: float`` and an
injected :class:`random.Random`; its outputs are *actions* (:mod:`.actions`) that the edges
carry out: an ESME client sends the SMS and USSD screens, an HTTP client posts the webhooks.

Modules, inner to outer: :mod:`.texts` (user-facing texts, money, references),
:mod:`.actions`, :mod:`.wallets`, :mod:`.otp`, :mod:`.orders` (orders and the
``Outcome`` of an input), :mod:`.config` (``MerchantConfig``), :mod:`.menu` (the ``*126#``
menu) and :mod:`.service` (:class:`~simulators.merchant.service.Merchant`, the entry point).
"""
