"""Role fixtures shared by every test: who deploys, who asks, who answers, who disputes."""

import pytest


@pytest.fixture(scope="session")
def owner(accounts):
    """Deploys the contracts and holds their admin roles."""
    return accounts[0]


@pytest.fixture(scope="session")
def user(accounts):
    """A consumer's account: pays for inference requests."""
    return accounts[1]


@pytest.fixture(scope="session")
def submitter(accounts):
    """A node that posts results with a bond."""
    return accounts[2]


@pytest.fixture(scope="session")
def challenger(accounts):
    """A node that disputes results it recomputes differently."""
    return accounts[3]


@pytest.fixture(scope="session")
def model_owner(accounts):
    """Owns a registered model and is paid its fees."""
    return accounts[4]


@pytest.fixture(scope="session")
def stranger(accounts):
    """Holds no role anywhere: every permissioned call from it must revert."""
    return accounts[5]


@pytest.fixture
def standin_chain(networks):
    """A second anvil with Sepolia's chain id (11155111, not a local dev chain), connected the way a real RPC is:
    through ape-config.yaml's custom `ethereum:stand-in-sepolia:<uri>` network (ape's node provider). Yields
    (provider, uri); it mines on demand until a test switches it to interval mining."""
    import shutil
    import socket
    import subprocess
    import time

    anvil = shutil.which("anvil")
    if anvil is None:
        pytest.fail("anvil is not on PATH (node_modules/.bin)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([anvil, "--port", str(port), "--chain-id", "11155111", "--silent"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        uri = f"http://127.0.0.1:{port}"
        with networks.parse_network_choice(f"ethereum:stand-in-sepolia:{uri}") as provider:
            yield provider, uri
    finally:
        proc.terminate()
        proc.wait(timeout=10)
