"""smsgw's image, built for the container tests on the base image interop/docker/install.sh
makes (no image registry needed), and the ``docker`` command they drive it with.

The build is the one docs/container.md gives a user without a registry (``make image
BASE=smsgw-base:bookworm``): smsgw's wheel and every wheel it needs built on this machine into
``dist/wheels``, then ``docker build``, which installs from there with no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "smsgw-base:bookworm"
IMAGE = "smsgw:test"


class DockerError(RuntimeError):
    """A docker command failed; the message has its output."""


def docker(*arguments: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGUMENTS``; raise :class:`DockerError` with its output when it fails."""
    done = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise DockerError(
            f"docker {' '.join(arguments)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done


def unavailable_reason() -> str | None:
    """Why the container tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "Docker is not installed: apt-get install docker.io debootstrap, or run `sh interop/docker/install.sh` as root (make test does)"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "no Docker engine answers (docker info failed): start dockerd, or run `sh interop/docker/install.sh` as root (make test does)"
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        return f"no base image {BASE_IMAGE}: run `sh interop/docker/base-image.sh` (needs debootstrap; make test does)"
    return None


def build_image() -> float:
    """Build :data:`IMAGE` from this checkout offline (interop/docker/build-image.sh, which
    ``make image`` runs too); the seconds it took, wheels included."""
    started = time.monotonic()
    done = subprocess.run(
        ["sh", str(ROOT / "interop" / "docker" / "build-image.sh"), IMAGE, BASE_IMAGE],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHON": sys.executable},
    )  # fmt: skip
    if done.returncode != 0:
        raise DockerError(f"interop/docker/build-image.sh failed: {done.stderr.strip()[-2000:]}")
    return time.monotonic() - started
