"""Role fixtures shared by every test: who deploys, who asks, who answers, who disputes.

Hypothesis: tests that set no example count of their own draw 25 examples under `make test` (profile
"make-test"; hypothesis' default is 100) to keep the suite within its time budget, and draw them derandomized (the
same examples on every run, so CI's verdict on a commit does not depend on luck); HYPOTHESIS_PROFILE=default
restores hypothesis' own defaults (random draws, 100 examples) for a longer, exploring run.
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("make-test", max_examples=25, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "make-test"))


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


@pytest.fixture(scope="session")
def digits_data():
    """The fixed 75/25 split of scikit-learn's digits."""
    from offchain.models import digits

    return digits.load_split()


@pytest.fixture(scope="session")
def digits_reference(digits_data):
    """``digits_reference(name)`` -> (integer model, float module) of digits model ``name`` (digits-mlp, digits-cnn),
    trained (seed 0, one thread: deterministic) and compiled for one image once per session: what
    ``offchain.models.digits.build(name)`` returns, shared by the engine tests and the oracle's batch tests instead of
    training the same model twice. Callers must not mutate them."""
    from offchain.models import digits

    built = {}

    def get(name: str):
        if name not in built:
            module = digits.train(name, digits_data)
            built[name] = digits.compile_digits(module, digits_data, name), module
        return built[name]

    return get


@pytest.fixture(scope="session")
def reference_model(digits_data, digits_reference):
    """``reference_model(name)``: ``offchain.models.build_reference(name)``, built once per session. Four test files
    check the reference models (move gas twice, input domains, every operator's game); each used to build them again,
    training digits-mlp and digits-cnn each time. The digits models come from ``digits_reference`` (the same training
    and compile as build_reference's). Callers must not mutate them."""
    from offchain.models import build_reference, digits_built

    built = {}

    def get(name: str):
        if name not in built:
            if name in ("digits-mlp", "digits-cnn"):
                built[name] = digits_built(digits_reference(name)[0], digits_data.test_pixels)
            else:
                built[name] = build_reference(name)
        return built[name]

    return get


@pytest.fixture(scope="session")
def zoo_compiled():
    """``zoo_compiled(name)``: offchain/models/zoo.py's ``compile_zoo(name)``, compiled once per session (the zoo's own
    agreement test and the CLI test that checks `compile --module offchain.models.zoo:NAME` against it both need it;
    a zoo compile takes seconds). Callers must not mutate the returned model."""
    from offchain.models import zoo

    compiled = {}

    def get(name: str):
        if name not in compiled:
            compiled[name] = zoo.compile_zoo(name)
        return compiled[name]

    return get


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
