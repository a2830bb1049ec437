"""How a node sends a transaction so that it succeeds the first time, and what it logs when one cannot.

A node's move is estimated against the latest block but mined in a later one, and the game's chess clock makes
the mined call write more than the estimated one: ``DisputeGame._move`` charges the mover for the seconds since
``turnStartedAt`` and stamps the new turn, and when the estimate runs in the block that stamped the previous move
(elapsed 0) that packed clock slot is rewritten with its own value (100 gas), while the mined call changes it
(2,900 gas). A transaction sent with the bare estimate then dies of OutOfGas on-chain (seen on anvil with
``--block-time 1``: the first try of every move failed, the retry with 2,800 more gas passed). Other time- or
order-dependent paths (finalization windows, a rival's submission mined first) differ the same way.

So every node transaction goes through ``Transactor.send``:

* estimate with ``eth_estimateGas``; if the estimate reverts, nothing is sent: one line
  ``event=reverted action=... error=Name(args)`` with the custom error decoded from the contract's ABI (no call
  trace is fetched, which in ape took 1-6 s per revert and printed the whole trace);
* gas limit = ``estimate + max(estimate * 20%, 25,000)``, capped by the block gas limit (``gas_limit``). The
  25,000 floor covers the worst single surprise a mined call can hold over its estimate: one storage slot going
  from zero to nonzero (20,000 + 2,100 for a cold slot = 22,100), which is more than the clock rewrite (2,800)
  plus the 1/64 of extra gas a caller keeps back per nested call (EIP-150). The 20% covers estimates of large
  calls (one-step proofs of ~1-2 M gas) whose sub-calls forward 63/64 of what is left and whose loops may run a
  little longer in the mined state; the unused gas is refunded, so the margin costs nothing when not needed;
* the signed transaction is sent and its receipt awaited (also on chains that mine on an interval, where ape
  would hand back an unmined receipt); a receipt with status 0 is logged (``event=tx-failed``) and counted.

Every transaction and every skipped revert is recorded by the ``TxLedger`` given (the node's SQLite store), so
``failed_node_txs`` can be read back after a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak
from web3.exceptions import ContractLogicError

#: Proportional margin on the estimate, in percent.
MARGIN_PERCENT = 20
#: Absolute floor of the margin, in gas: one zero-to-nonzero SSTORE on a cold slot (22,100) and change.
MIN_MARGIN = 25_000

_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


class TransactionRejected(RuntimeError):
    """A transaction could not be sent at all: its estimate needs more gas than a block holds."""


class TxLedger(Protocol):
    """Where a Transactor records what it did (offchain.nodes.store.NodeStore implements it)."""

    def record_tx(self, action: str, status: str, tx_hash: str | None = None, gas_limit: int | None = None,
                  gas_used: int | None = None, detail: str = "") -> None: ...


def gas_limit(estimate: int, block_gas_limit: int) -> int:
    """The gas limit a node sends with: the estimate plus ``max(20%, 25,000)``, at most a block's gas limit."""
    if estimate > block_gas_limit:
        raise TransactionRejected(f"the estimate {estimate} exceeds the block gas limit {block_gas_limit}")
    return min(estimate + max(estimate * MARGIN_PERCENT // 100, MIN_MARGIN), block_gas_limit)


def _short(value: Any, width: int = 18) -> str:
    """A value as a log token: bytes as hex cut to ``width`` characters, sequences element-wise, no spaces."""
    if isinstance(value, (bytes, bytearray)):
        text = "0x" + bytes(value).hex()
        return text if len(text) <= width else text[:width] + "…"
    if isinstance(value, (list, tuple)):
        inner = ",".join(_short(v) for v in value[:4])
        return f"[{inner}{',…' if len(value) > 4 else ''}]"
    return str(value).replace(" ", "_")


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data an ``eth_estimateGas`` / ``eth_call`` error carries, if any."""
    data = getattr(exc, "data", None)
    if data is None:
        response = getattr(exc, "rpc_response", None) or {}
        data = (response.get("error") or {}).get("data") if isinstance(response, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return bytes(data) if isinstance(data, (bytes, bytearray)) else None


def decode_revert(data: bytes | None, error_abis: list[Any]) -> str:
    """``Name(arg=value, ...)`` of revert ``data``: a custom error of ``error_abis`` (ape ErrorABI objects),
    ``Error("reason")``, ``Panic(code)``, or the bare selector when no ABI matches."""
    if not data:
        return "revert(no data)"
    selector, body = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return f"Error({abi_decode(['string'], body)[0]!r})".replace(" ", "_")
        if selector == _PANIC:
            return f"Panic({hex(abi_decode(['uint256'], body)[0])})"
        for abi in error_abis:
            if keccak(text=abi.selector)[:4] == selector:
                values = abi_decode([i.canonical_type for i in abi.inputs], body)
                args = ",".join(f"{i.name}={_short(v)}" if i.name else _short(v) for i, v in zip(abi.inputs, values))
                return f"{abi.name}({args})"
    except (DecodingError, ValueError):  # malformed revert data is reported raw below
        pass
    return f"0x{selector.hex()}({_short(body)})"


@dataclass
class Sent:
    """What ``Transactor.send`` did: the receipt (None when nothing was sent), and why nothing was sent (the
    decoded revert, or an estimate beyond the block gas limit)."""

    receipt: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.receipt is not None and not self.receipt.failed


class Transactor:
    """Sends one account's contract calls with a margin over the estimate; never sends a call that reverts.

    ``provider`` is ape's connected provider, ``account`` an ape account that can sign, ``log(event, **fields)``
    the node's structured logger and ``ledger`` where sent transactions and skipped reverts are recorded.
    """

    def __init__(self, provider: Any, account: Any, log: Callable[..., None], ledger: TxLedger | None = None,
                 receipt_timeout: float = 120):
        self.provider, self.account, self.log, self.ledger = provider, account, log, ledger
        self.receipt_timeout = receipt_timeout
        self._project_errors: list[Any] | None = None
        self._unsure = True   # whether an own transaction may be in flight unseen (see send)

    def _project_error_abis(self) -> list[Any]:
        """Every project contract's errors (loaded once, seconds): an error can bubble up from a callee
        (PrivateNodeJudge's PrivateProofInvalid through AIOracle.submitPrivate) whose ABI the caller lacks."""
        if self._project_errors is None:
            try:
                from ape import project

                self._project_errors = [e for c in project.contracts.values() for e in c.contract_type.errors]
            except Exception:  # noqa: BLE001 - outside an ape project only the called contract's ABI is known
                self._project_errors = []
        return self._project_errors

    def send(self, contract: Any, method: str, *args: Any, value: int = 0, action: str | None = None) -> Sent:
        """Calls ``contract.method(*args)`` with ``value`` wei as a transaction. Returns ``Sent`` with the mined
        receipt, or with ``error`` (``Name(args)``) when the estimate reverted and nothing was sent."""
        action = action or method
        handler = getattr(contract, method)
        web3 = self.provider.web3
        # One transaction in flight at a time: when the answer to an earlier send (or to its receipt wait) was lost,
        # that transaction may still be mined; the chain does not show its effect yet, so the same action would be
        # sent again and revert once the first lands (seen under a faulty RPC). Wait for it instead. Checked only
        # when this process cannot know (at start, or after a send that raised): two reads, not two per send.
        if self._unsure:
            in_flight = (web3.eth.get_transaction_count(self.account.address, "pending")
                         - web3.eth.get_transaction_count(self.account.address, "latest"))
            if in_flight > 0:
                self.log("waiting", action=action, in_flight=in_flight)
                return Sent(error=f"{in_flight} earlier transaction(s) not mined yet")
            self._unsure = False
        call = {"from": self.account.address, "to": contract.address,
                "data": "0x" + bytes(handler.encode_input(*args)).hex(), "value": value}
        try:
            estimate = web3.eth.estimate_gas(call)
        except ContractLogicError as exc:  # a revert; transport and other RPC errors reach the node's poll loop
            data = revert_data(exc)
            error = decode_revert(data, list(contract.contract_type.errors))
            if error.startswith("0x"):   # not the called contract's error: one bubbled up from a callee
                error = decode_revert(data, self._project_error_abis())
            if error == "revert(no data)":
                error = f"{type(exc).__name__}({_short(str(exc).splitlines()[0] if str(exc) else '', 120)})"
            self.log("reverted", action=action, error=error)
            if self.ledger is not None:
                self.ledger.record_tx(action, "reverted", detail=error)
            return Sent(error=error)
        try:
            limit = gas_limit(estimate, int(web3.eth.get_block("latest")["gasLimit"]))
        except TransactionRejected as exc:
            self.log("rejected", action=action, error=_short(str(exc), 200))
            if self.ledger is not None:
                self.ledger.record_tx(action, "rejected", detail=str(exc))
            return Sent(error=str(exc))
        txn = handler.as_transaction(*args, sender=self.account, value=value, gas=limit, sign=True)
        self._unsure = True   # until its receipt is in hand
        tx_hash = web3.eth.send_raw_transaction(txn.serialize_transaction())
        web3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout)
        receipt = self.provider.get_receipt("0x" + bytes(tx_hash).hex())
        self._unsure = False
        status = "failed" if receipt.failed else "ok"
        if self.ledger is not None:
            self.ledger.record_tx(action, status, receipt.txn_hash, limit, receipt.gas_used)
        if receipt.failed:
            self.log("tx-failed", action=action, tx=receipt.txn_hash, gas_limit=limit, gas_used=receipt.gas_used,
                     estimate=estimate)
        return Sent(receipt=receipt)
