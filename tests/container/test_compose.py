"""docker-compose.yml: the local stack starts from smsgw's image and answers on the host; its
cluster profile is checked as far as this machine can (it needs the postgres image from Docker
Hub, which no registry here serves)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from simulators.http import call_api
from tests.docker import docker
from tests.postgres import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "compose-test-token-0123456789"


def compose(*arguments: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    return subprocess.run(
        [*command, "--file", str(ROOT / "docker-compose.yml"), *arguments],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **env},
    )  # fmt: skip


@pytest.fixture(scope="module")
def compose_available() -> None:
    if not shutil.which("docker-compose") and docker("compose", "version", check=False).returncode != 0:
        pytest.skip("no docker-compose (apt-get install docker-compose; interop/docker/install.sh does)")


def test_the_file_wants_a_token_and_describes_both_stacks(compose_available: None) -> None:
    missing = compose("config", "--quiet", env={"SMSGW_TOKEN": ""})
    assert missing.returncode != 0 and "give the HTTP API a token" in missing.stderr
    services = compose("--profile", "cluster", "config", "--services", env={"SMSGW_TOKEN": TOKEN})
    assert services.returncode == 0, services.stderr
    assert sorted(services.stdout.split()) == ["node-a", "node-b", "postgres", "smsgw"]


def test_the_stack_runs_smsgw_with_its_store_on_a_volume(compose_available: None, smsgw_image: str) -> None:
    project = f"smsgwtest{secrets.token_hex(3)}"
    http = free_port()
    env = {
        "SMSGW_TOKEN": TOKEN,
        "SMSGW_COMPOSE_IMAGE": smsgw_image,
        "SMSGW_COMPOSE_SMPP_PORT": str(free_port()),
        "SMSGW_COMPOSE_CMPP_PORT": str(free_port()),
        "SMSGW_COMPOSE_HTTP_PORT": str(http),
        "SMSGW_COMPOSE_MERCHANT_PORT": str(free_port()),
    }
    try:
        up = compose("--project-name", project, "up", "--detach", "--no-build", "smsgw", env=env)
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 60
        while True:
            try:
                health = call_api(f"http://127.0.0.1:{http}", "GET", "/api/health", timeout=2, token=TOKEN)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert health["store"]["location"] == "/data/smsgw.db"
        volumes = docker("volume", "ls", "--quiet", "--filter", f"name={project}").stdout.split()
        assert f"{project}_smsgw-data" in volumes
    finally:
        compose("--project-name", project, "down", "--volumes", env=env)


def test_the_cluster_profile_runs_two_nodes_on_postgresql(compose_available: None, smsgw_image: str) -> None:
    if docker("image", "inspect", "postgres:16", check=False).returncode != 0:
        pytest.skip(
            "the cluster profile needs the postgres:16 image from Docker Hub, which this machine cannot reach"
        )
    project = f"smsgwtest{secrets.token_hex(3)}"
    http_a, http_b = free_port(), free_port()
    env = {
        "SMSGW_TOKEN": TOKEN,
        "SMSGW_COMPOSE_IMAGE": smsgw_image,
        "SMSGW_COMPOSE_NODE_A_SMPP_PORT": str(free_port()),
        "SMSGW_COMPOSE_NODE_A_HTTP_PORT": str(http_a),
        "SMSGW_COMPOSE_NODE_A_MERCHANT_PORT": str(free_port()),
        "SMSGW_COMPOSE_NODE_B_SMPP_PORT": str(free_port()),
        "SMSGW_COMPOSE_NODE_B_HTTP_PORT": str(http_b),
    }
    try:
        up = compose("--project-name", project, "--profile", "cluster", "up", "--detach", "--no-build",
                     "node-a", "node-b", env=env, timeout=300)  # fmt: skip
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 120
        for http in (http_a, http_b):
            while True:
                try:
                    call_api(f"http://127.0.0.1:{http}", "GET", "/api/health", timeout=2, token=TOKEN)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        made = call_api(
            f"http://127.0.0.1:{http_a}", "POST", "/api/handsets", body={}, timeout=10, token=TOKEN
        )
        seen = call_api(
            f"http://127.0.0.1:{http_b}", "GET", f"/api/handsets/{made['msisdn']}", timeout=10, token=TOKEN
        )
        assert seen["msisdn"] == made["msisdn"]
    finally:
        compose("--project-name", project, "--profile", "cluster", "down", "--volumes", env=env)
