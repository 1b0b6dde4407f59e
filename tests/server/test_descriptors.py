"""Connection limits fitted into the open-files limit."""

from __future__ import annotations

import resource

from smsgw.server.descriptors import RESERVE, fit, raise_open_files


def test_limits_that_fit_are_kept_and_the_limit_is_said() -> None:
    fitted = fit(1000, 1000, 1024, 65536)
    assert (fitted.max_connections, fitted.max_open_requests, fitted.warning) == (1000, 1000, None)
    assert fitted.summary == "open files: 65536 (raised from 1024)"


def test_the_defaults_under_1024_open_files_are_lowered_to_fit_and_say_what_to_change() -> None:
    fitted = fit(1000, 1000, 1024, 1024)
    assert fitted.max_connections + fitted.max_open_requests + RESERVE <= 1024
    assert fitted.max_connections == fitted.max_open_requests == 462
    assert fitted.warning is not None
    assert (
        "[smpp] max_connections 1000 and [http] max_open_requests 1000 do not fit in 1024" in fitted.warning
    )
    assert "ulimit -n 2100" in fitted.warning


def test_no_limit_is_given_the_room_there_is() -> None:
    fitted = fit(0, 100, 1024, 1024)
    assert fitted.max_connections + fitted.max_open_requests + RESERVE <= 1024
    assert fitted.max_connections > 0 and fitted.warning is not None


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and soft > 64:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 1, hard))
        before, now = raise_open_files()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == now
        assert hard == resource.RLIM_INFINITY or now == hard
        assert before is not None and before <= now
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
