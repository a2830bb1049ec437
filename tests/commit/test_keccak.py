"""keccak256 known answers and agreement with a second library (pycryptodome)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.commit import EMPTY_ROOT, KECCAK_EMPTY, ZERO_HASHES, keccak256
from .naive import keccak_ref


def test_known_answers():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert KECCAK_EMPTY == keccak256(b"")
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    # Solidity: keccak256(abi.encodePacked("transfer(address,uint256)")) selector a9059cbb
    assert keccak256(b"transfer(address,uint256)")[:4].hex() == "a9059cbb"


def test_zero_ladder_matches_eth2_deposit_contract():
    # The deposit contract pads its tree with the same ladder (Z0 = 0, Z[h+1] = H(Z[h] ++ Z[h])).
    assert ZERO_HASHES[0] == bytes(32)
    assert ZERO_HASHES[1].hex() == "ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5"
    assert ZERO_HASHES[2].hex() == "b4c11951957c6f8f642c4af61cd6b24640fec6dc7fc607ee8206a99e92410d30"
    for h in range(len(ZERO_HASHES) - 1):
        assert ZERO_HASHES[h + 1] == keccak_ref(ZERO_HASHES[h] * 2)
    assert EMPTY_ROOT not in ZERO_HASHES


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=0, max_size=600))
def test_agrees_with_pycryptodome(data):
    assert keccak256(data) == keccak_ref(data)
    assert keccak256(memoryview(data)) == keccak_ref(data)
