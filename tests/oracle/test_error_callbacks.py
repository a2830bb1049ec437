"""Issue 18, errors: ORA's error callback on the consumer base, and the oracle's errors readable by name through an
ORA-style consumer (whose own source declares none of them) and by `python -m offchain decode-error`."""

from __future__ import annotations

import json
import subprocess
import sys

import ape
from eth_abi import encode
from eth_utils import keccak

from offchain.chain.errors import decode_error, error_table

from .conftest import CALLBACK_GAS

INVALID_INPUT, INVALID_BATCH_SIZE = 0, 1
OPEN, INVALID, REJECTED = 1, 5, 6   # AIOracle.RequestStatus


def domain_error(name: str, *args) -> bytes:
    """The ABI encoding of an input-domain error, as `checkInput` reverts with it and an error callback carries it."""
    types = {"InputOutOfDomain": ["uint256", "int256", "int256", "int256"],
             "InputNotWholeElements": ["uint256", "uint256"]}[name]
    return keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, list(args))


def assert_refused(oracle, tx, reason: bytes) -> int:
    """`tx` made one request, accepted as invalid with `reason`; returns its id."""
    (log,) = list(tx.decode_logs(oracle.InputRefused))
    assert log.reason == reason
    assert oracle.getRequest(log.requestId).status == INVALID
    assert not oracle.isFinalized(log.requestId)
    return log.requestId


def prompt_consumer(project, protocol, owner, model_id, gas=CALLBACK_GAS):
    prompt = owner.deploy(project.OraStylePrompt, protocol.oracle)
    prompt.setCallbackGasLimit(model_id, gas, sender=owner)
    return prompt


def test_error_callback_has_oras_selector_and_signature(project):
    abi = {m.name: m for m in project.OraStylePrompt.contract_type.mutable_methods}
    method = abi["aiOracleCallbackError"]
    assert [i.type for i in method.inputs] == ["uint256", "uint8", "bytes", "bytes"]
    assert keccak(text="aiOracleCallbackError(uint256,uint8,bytes,bytes)")[:4].hex() == "8e6fd006"
    assert method.selector == "aiOracleCallbackError(uint256,uint8,bytes,bytes)"
    # the selector the compiled contract dispatches on
    assert project.OraStylePrompt.contract_type.selector_identifiers[method.selector] == "0x8e6fd006"
    events = {e.name: e for e in project.OraStylePrompt.contract_type.events}
    ev = events["AICallbackError"]
    assert [(i.type, i.indexed) for i in ev.inputs] == [("uint256", True), ("uint8", True), ("bytes", False),
                                                        ("bytes", False)]


def test_default_error_callback_emits_and_only_the_oracle_may_call_it(project, protocol, owner, model_id, user):
    prompt = prompt_consumer(project, protocol, owner, model_id)
    with ape.reverts(prompt.UnauthorizedCallbackSource, expected=protocol.oracle.address, found=user.address):
        prompt.aiOracleCallbackError(7, INVALID_INPUT, b"why", b"data", sender=user)
    oracle_account = ape.accounts[protocol.oracle.address]  # impersonated on anvil
    ape.chain.provider.set_balance(protocol.oracle.address, 10**18)
    tx = prompt.aiOracleCallbackError(7, INVALID_BATCH_SIZE, b"why", b"data", sender=oracle_account)
    logs = list(tx.decode_logs(prompt.AICallbackError))
    assert len(logs) == 1
    assert (logs[0].requestId, logs[0].code, logs[0].message, logs[0].callbackData) == (
        7, INVALID_BATCH_SIZE, b"why", b"data")


def test_oracle_errors_decode_by_name_through_an_ora_style_consumer(project, protocol, owner, model_id, user):
    prompt = prompt_consumer(project, protocol, owner, model_id)
    fee = prompt.estimateFee(model_id)
    assert fee == protocol.oracle.estimateFee(model_id, CALLBACK_GAS)
    with ape.reverts(prompt.Underpaid, paid=fee - 1, fee=fee):
        prompt.calculateAIResult(model_id, "x" * 16, sender=user, value=fee - 1)
    with ape.reverts(prompt.UnknownModel, modelId=99):
        prompt.calculateAIResult(99, "x", sender=user, value=fee)
    prompt.setCallbackGasLimit(model_id, 0, sender=owner)  # a callback contract with no gas limit
    with ape.reverts(prompt.CallbackGasMismatch, callbackContract=prompt.address, gasLimit=0):
        prompt.calculateAIResult(model_id, "x", sender=user, value=fee)
    prompt.setCallbackGasLimit(model_id, CALLBACK_GAS, sender=owner)
    request_id = prompt.calculateAIResult(model_id, "x" * 16, sender=user, value=fee).return_value
    assert prompt.requests(request_id).sender == user.address


def _cli(data: str) -> subprocess.CompletedProcess:
    """`python -m offchain decode-error DATA` as a user runs it: a new interpreter (seconds to import)."""
    return subprocess.run([sys.executable, "-m", "offchain", "decode-error", data], capture_output=True, text=True)


def _cli_in_process(data: str):
    """The same click command invoked in this process (CliRunner): exit code, stdout and stderr, without a new
    interpreter per case; `_cli` covers the `python -m offchain` entry point once."""
    from click.testing import CliRunner

    from offchain.cli import main

    return CliRunner(mix_stderr=False).invoke(main, ["decode-error", data])


def test_decode_error_cli_names_every_project_error():
    table = error_table()
    names = {sig.split("(")[0] for sig, _, _ in table.values()}
    for must in ("Underpaid", "CallbackGasMismatch", "UnknownModel", "InputOutOfDomain", "WrongRequestStatus",
                 "WrongBond", "UnauthorizedCallbackSource", "BadPrivateNode"):
        assert must in names
    # Every custom error round-trips with zero-valued args in-process; a few through the CLI with real values.
    for sel, (sig, arg_names, types) in table.items():
        zero = {"bool": False, "address": "0x" + "00" * 20, "string": ""}
        values = [zero.get(t, b"" if t == "bytes" else (b"\x00" * int(t[5:]) if t.startswith("bytes") else 0))
                  if "[" not in t and not t.startswith("(") else None for t in types]
        if None in values:
            continue
        out = decode_error(sel + encode(types, values))
        assert out["signature"] == sig
        assert list(out["args"]) == [n or f"arg{i}" for i, n in enumerate(arg_names)]
    data = keccak(text="Underpaid(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [5, 2**256 - 1])
    out = json.loads(_cli("0x" + data.hex()).stdout)
    assert out == {"name": "Underpaid", "signature": "Underpaid(uint256,uint256)",
                   "args": {"paid": 5, "fee": 2**256 - 1}}
    data = keccak(text="InputOutOfDomain(uint256,int256,int256,int256)")[:4] + encode(
        ["uint256", "int256", "int256", "int256"], [3, -2**255, 0, 255])
    done = _cli_in_process("0x" + data.hex())
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["args"] == {"index": 3, "value": -2**255, "min": 0, "max": 255}
    data = keccak(text="Error(string)")[:4] + encode(["string"], ["nope"])
    assert json.loads(_cli_in_process("0x" + data.hex()).stdout)["args"] == {"message": "nope"}
    data = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x12])
    assert json.loads(_cli_in_process("0x" + data.hex()).stdout)["args"] == {
        "code": "0x12", "meaning": "division or modulo by zero"}
    bad = _cli_in_process("0xdeadbeef")
    assert bad.exit_code != 0 and "unknown error selector 0xdeadbeef" in bad.stderr
    bad = _cli("0xdeadbeef")   # and the entry point's exit status and stderr
    assert bad.returncode != 0 and "unknown error selector 0xdeadbeef" in bad.stderr
