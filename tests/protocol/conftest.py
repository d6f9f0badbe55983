"""pytest configuration for the raw wire-protocol tests.

The server under test is started by someone else with ``PROFILE=suite``
timings (pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms) and
is reached through ``RINGCAST_URL`` (e.g. ``http://127.0.0.1:3000``).
"""

import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wire  # noqa: E402


def pytest_report_header(config):
    return f"RINGCAST_URL={wire.base_url()}"


@pytest.fixture(scope="session", autouse=True)
def _server_reachable():
    host, port = wire.target()
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as e:
        pytest.exit(f"server under test not reachable at {wire.base_url()} ({e}); "
                    f"set RINGCAST_URL", returncode=2)


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    wire.close_all_clients()


@pytest.fixture(params=["websocket", "polling"])
def transport(request):
    return request.param
