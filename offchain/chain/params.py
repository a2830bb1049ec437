"""Protocol parameters: bonds, windows, clocks, fees. One place, with the local chain's defaults.

On a testnet or mainnet the windows should be hours, not seconds; `ape run deploy` takes overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

ETHER = 10**18
GWEI = 10**9


@dataclass(frozen=True)
class ProtocolParams:
    submitter_bond: int = ETHER // 10          # wei a submitter locks per result
    challenger_bond: int = ETHER // 20         # wei a challenger locks per game
    challenge_window: int = 30                 # seconds a result can be challenged (demo scale)
    clock_budget: int = 120                    # seconds of thinking time per side per game
    reveal_depth: int = 4                      # j: each reveal shows 2^j children
    burn_bps: int = 1000                       # share of a loser's bond burned (10%)
    # most a game that turns moot (its claim voided by another game) gets from the voided claim's bond besides its
    # own: 400,000 gas (challenge + a few picks + settleMoot) at 20 gwei
    moot_compensation: int = 400_000 * 20 * GWEI
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
        pot = self.submitter_bond - self.submitter_bond * self.burn_bps // 10_000
        if self.moot_compensation > pot:
            raise ValueError(f"moot_compensation ({self.moot_compensation} wei) exceeds a voided claim's bond after "
                             f"the burn ({pot} wei)")
