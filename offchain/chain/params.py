"""Protocol parameters: bonds, windows, clocks, fees. One place, with the local chain's defaults.

On a testnet or mainnet the windows should be hours, not seconds; `ape run deploy` takes overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

ETHER = 10**18
GWEI = 10**9
#: The gas price at which a moot game's compensation covers its challenger's gas, and the gas it covers.
MOOT_GAS_PRICE = 20 * GWEI
MOOT_BASE_GAS = 350_000      # measured: challenge 219k + settleMoot 83k + withdraw 36k (tests/dispute)
MOOT_MOVE_GAS = 200_000


@dataclass(frozen=True)
class ProtocolParams:
    submitter_bond: int = ETHER // 10          # wei a submitter locks per result
    challenger_bond: int = ETHER // 20         # wei a challenger locks per game
    challenge_window: int = 30                 # seconds a result can be challenged (demo scale)
    clock_budget: int = 120                    # seconds of thinking time per side per game
    reveal_depth: int = 4                      # j: each reveal shows 2^j children
    burn_bps: int = 1000                       # share of a loser's bond burned (10%)
    # what a game that turns moot (its claim voided by another game) gets from the voided claim's bond besides its
    # own bond: its challenger's gas at MOOT_GAS_PRICE, as a base (challenge + settleMoot + withdraw) plus an
    # amount per move (the costliest non-step move, openNode, with room), capped by the pot (see README)
    moot_base_compensation: int = MOOT_BASE_GAS * MOOT_GAS_PRICE
    moot_move_compensation: int = MOOT_MOVE_GAS * MOOT_GAS_PRICE
    node_reward: int = ETHER // 1000           # wei to the submitter of each finalized result
    callback_gas_price: int = GWEI             # wei per unit of callback gas limit
    max_callback_gas: int = 3_000_000          # largest callback gas limit a request may ask for
    request_timeout: int = 600                 # seconds before an unanswered request is refundable

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"protocol parameter {f.name} must be >= 0, got {getattr(self, f.name)}")
        # The oracle's constructor enforces the same rule (BadOracleConfig("requestTimeout")).
        if self.request_timeout <= self.challenge_window + 2 * self.clock_budget:
            raise ValueError(f"request_timeout ({self.request_timeout} s) must exceed the challenge window plus both "
                             f"clocks ({self.challenge_window} + 2 x {self.clock_budget} s), or a game opened at the "
                             f"window's end could outlast the request")
