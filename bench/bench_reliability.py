"""Reliability of the dispute protocol for honest players: randomized full games on a local anvil.

Run: ``python -m bench.bench_reliability [--games N] [--seed S]`` (``make bench-reliability``; N defaults to
$RELIABILITY_GAMES or 200). Plays N games with bench/_game_fuzz.py (1-4 games per claim, faults in every
operator kind, honest, dishonest and sybil challengers, stalling and non-hashing submitters) and writes
bench/results/reliability.json:

* ``games_fuzzed``   games played to their end and settled;
* ``honest_losses``  broken guarantees to honest players (0 expected);
* ``funds_lost_wei`` wei honest players ended short of what the protocol guarantees them (0 expected);
* ``op_kinds_proven`` operator kinds (of every op code) whose injected fault an honest strategy proved by a
                      one-step proof in this run;
* ``games_per_s``    throughput (ape transactions on anvil dominate).

Other tools add their figures as parts: every ``bench/results/reliability-*.json`` (same format, e.g. forge's
invariant runs or process-fault trials) has its ``results`` entries merged into reliability.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bench import fuzz_games
from bench._results import RESULTS_DIR, Result, write_results
from offchain.engine.ops import OpCode

DEFAULT_GAMES = 200
SEED = 7007


def parts() -> list[Result]:
    """The ``results`` entries of the reliability-*.json parts other tools wrote, in file-name order."""
    merged = []
    for path in sorted(RESULTS_DIR.glob("reliability-*.json")):
        try:
            entries = json.loads(path.read_text())["results"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{path}: not a results file in the bench format ({error})") from error
        for entry in entries:
            merged.append(Result(**{k: entry.get(k) for k in Result.__dataclass_fields__}))
    return merged


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=int(os.environ.get("RELIABILITY_GAMES", DEFAULT_GAMES)))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    stats = fuzz_games.run(args.games, args.seed)
    case = "game-fuzz"
    note = (f"seed {args.seed}, {stats.trials} claims ({stats.faulty_claims} faulty), 1-4 games each, "
            f"{stats.moves} moves")
    results = [
        Result(case, "games_fuzzed", stats.games_fuzzed, "games", note=note),
        Result(case, "honest_losses", stats.honest_losses, "violations", "expected (DESIGN.md section 4)", 0),
        Result(case, "funds_lost_wei", stats.funds_lost_wei, "wei", "expected", 0),
        Result(case, "op_kinds_proven", len(stats.ops_proven), "op kinds", "op codes in the engine", len(OpCode),
               note="operator kinds whose injected fault was voided by the honest strategy's one-step proof"),
        Result(case, "games_per_s", round(stats.games_per_s, 3), "games/s", note=f"{stats.wall_s:.0f} s wall"),
    ]
    write_results("reliability", results + parts())
    return 1 if stats.honest_losses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
