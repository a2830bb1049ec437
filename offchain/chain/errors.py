"""Name any revert of the project's contracts: custom errors (from the compiled ABIs), Error(string) and Panic(uint256).

`python -m offchain decode-error 0x...` prints `{"name", "signature", "args"}`. The selector table is built from
every contract type in `.build/__local__.json` (written by `ape compile`), so it covers every custom error any
project contract declares or inherits, with its argument names.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_abi import decode
from eth_utils import keccak

BUILD = Path(".build/__local__.json")

PANICS = {
    0x00: "generic compiler panic", 0x01: "assert failed", 0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero", 0x21: "invalid enum value", 0x22: "bad storage byte array encoding",
    0x31: "pop on an empty array", 0x32: "array index out of bounds", 0x41: "out of memory",
    0x51: "call to a zero-initialized internal function",
}


def _type(param: dict) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def error_table(build: Path = BUILD) -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (signature, argument names, argument types) for every custom error of every compiled contract."""
    if not build.exists():
        raise FileNotFoundError(f"{build} not found: run `ape compile` first")
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for ct in json.loads(build.read_text())["contractTypes"].values():
        for item in ct.get("abi", []):
            if item.get("type") != "error":
                continue
            types = [_type(p) for p in item["inputs"]]
            sig = f"{item['name']}({','.join(types)})"
            table[keccak(text=sig)[:4]] = (sig, [p["name"] for p in item["inputs"]], types)
    return table


def _jsonable(v):
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def decode_error(data: bytes | str, build: Path = BUILD) -> dict:
    """Decode revert data; raises ValueError for data that is no known error."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    if len(data) < 4:
        raise ValueError(f"revert data of {len(data)} bytes has no selector")
    sel, body = data[:4], data[4:]
    if sel == keccak(text="Error(string)")[:4]:
        return {"name": "Error", "signature": "Error(string)", "args": {"message": decode(["string"], body)[0]}}
    if sel == keccak(text="Panic(uint256)")[:4]:
        (code,) = decode(["uint256"], body)
        return {"name": "Panic", "signature": "Panic(uint256)",
                "args": {"code": hex(code), "meaning": PANICS.get(code, "unknown panic code")}}
    entry = error_table(build).get(sel)
    if entry is None:
        raise ValueError(f"unknown error selector 0x{sel.hex()}")
    sig, names, types = entry
    values = decode(types, body)
    return {"name": sig.split("(")[0], "signature": sig,
            "args": {n or f"arg{i}": _jsonable(v) for i, (n, v) in enumerate(zip(names, values))}}
