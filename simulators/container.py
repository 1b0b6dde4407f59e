"""smsgw in a container for a test, the testcontainers-python way (docs/container.md).

::

    from simulators.container import SmsgwContainer

    with SmsgwContainer("smsgw:latest") as smsgw:
        host, port = smsgw.smpp_address()      # bind your ESME here, as smsgw / smsgw
        world = smsgw.new_namespace()          # a test's own handsets and faults
        phone = smsgw.phone(namespace=world.namespace)
        ...
        world.reset()

The container gets a token of its own (``SMSGW_TOKEN``), and the simulators' HTTP clients
(:class:`~simulators.handset.Phone`, :class:`~simulators.merchant.client.Shop`,
:class:`~simulators.world.Carrier`) send it to that container's URLs while it runs.
Needs ``pip install 'smsgw[container]'`` (testcontainers) and a Docker engine.
"""

from __future__ import annotations

import secrets
from typing import Any

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

from simulators.handset import Phone
from simulators.merchant.client import Shop
from simulators.world import DEFAULT_ACCOUNT, Carrier
from smsgw.apiclient import use_token

#: The ports smsgw listens on in its image.
SMPP_PORT, HTTP_PORT, MERCHANT_PORT, CMPP_PORT = 2775, 8775, 8776, 7890


class SmsgwContainer(DockerContainer):
    """The fake carrier (and its mock merchant, unless ``merchant=False``) in a container.

    :param image: an smsgw image (``docker build -t smsgw .`` in smsgw's checkout).
    :param token: the HTTP API token; a fresh random one when None.
    :param merchant: run the mock merchant beside the carrier.
    :param startup_timeout: seconds the carrier has to answer its health check.
    :param kwargs: passed to :class:`DockerContainer`.
    """

    def __init__(
        self,
        image: str = "smsgw:latest",
        *,
        token: str | None = None,
        merchant: bool = True,
        startup_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.token = token or secrets.token_urlsafe(24)
        self.merchant = merchant
        self._token_urls: list[str] = []
        self.with_env("SMSGW_TOKEN", self.token)
        self.with_exposed_ports(SMPP_PORT, CMPP_PORT, HTTP_PORT, *([MERCHANT_PORT] if merchant else []))
        if not merchant:
            self.with_command("--no-merchant")
        self.waiting_for(
            HttpWaitStrategy(HTTP_PORT, "/api/health")
            .with_header("Authorization", f"Bearer {self.token}")
            .for_status_code(200)
            .with_startup_timeout(int(startup_timeout))
        )

    def start(self) -> SmsgwContainer:
        """Start the container and wait until the carrier answers its health check."""
        super().start()
        self._token_urls = [self.api_url(), *([self.merchant_url()] if self.merchant else [])]
        for url in self._token_urls:
            use_token(url, self.token)
        return self

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        """Remove the container (and its store with it, unless ``delete_volume=False``)."""
        for url in self._token_urls:
            use_token(url, None)
        self._token_urls = []
        super().stop(force, delete_volume)

    def smpp_address(self) -> tuple[str, int]:
        """``(host, port)`` an ESME connects to from outside the container."""
        return self.get_container_host_ip(), int(self.get_exposed_port(SMPP_PORT))

    def cmpp_address(self) -> tuple[str, int]:
        """``(host, port)`` a CMPP SP connects to from outside the container."""
        return self.get_container_host_ip(), int(self.get_exposed_port(CMPP_PORT))

    def api_url(self) -> str:
        """The carrier's HTTP API (and console) from outside the container."""
        return self._url(HTTP_PORT)

    def merchant_url(self) -> str:
        """The mock merchant's HTTP API from outside the container."""
        if not self.merchant:
            raise RuntimeError("this SmsgwContainer runs without its mock merchant (merchant=False)")
        return self._url(MERCHANT_PORT)

    def new_namespace(self) -> Carrier:
        """A fresh namespace: the handsets, faults and messages of one test, cleared by
        :meth:`Carrier.reset <simulators.world.Carrier.reset>`."""
        return Carrier(
            self.api_url(),
            self.merchant_url() if self.merchant else None,
            self.smpp_address(),
            f"t-{secrets.token_hex(4)}",
            system_id=DEFAULT_ACCOUNT,
            password=DEFAULT_ACCOUNT,
        )

    def phone(self, msisdn: str | None = None, *, namespace: str = "", name: str = "") -> Phone:
        """A handset: ``msisdn``'s, or a fresh number (in ``namespace`` when given)."""
        if msisdn is not None:
            return Phone(msisdn, self.api_url())
        return Phone.provision(None, self.api_url(), name=name, namespace=namespace)

    def shop(self) -> Shop:
        """The mock merchant's client."""
        return Shop(self.merchant_url())

    def _url(self, port: int) -> str:
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(port)}"
