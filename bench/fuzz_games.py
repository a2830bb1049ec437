"""Randomized full dispute games on a local anvil (bench/_game_fuzz.py): ``make fuzz-games``.

Run: ``python -m bench.fuzz_games [--games N] [--seed S] [--first-trial T]``. Deploys once, plays trials of
1-4 games each until N games were played, prints a line per trial with a violation and a summary, and exits
1 if any guarantee to an honest player was broken (``honest_losses`` > 0). A failing trial is replayed alone
with ``--seed S --first-trial T --games 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator

from rich.console import Console

from bench._game_fuzz import FuzzStats, TrialOutcome, deploy, fuzz, fuzz_models, prepare_cases

#: Progress goes to stderr: stdout is silenced during the run (see _call_traces_silenced).
console = Console(stderr=True)


@contextlib.contextmanager
def _call_traces_silenced(silence: bool) -> Iterator[None]:
    """ape-foundry prints the call trace of every reverted transaction to the stdout it bound at import; the
    dishonest players' refused moves would bury the summary, so file descriptor 1 goes to /dev/null meanwhile.
    Exceptions still reach stderr."""
    if not silence:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def run(games: int, seed: int, first_trial: int = 0, progress: bool = True, show_reverts: bool = False) -> FuzzStats:
    """Starts anvil through ape's network context, deploys, and fuzzes ``games`` games."""
    from ape import accounts, networks, project
    from ape.logging import logger

    logger.set_level(logging.ERROR)
    t = time.perf_counter()
    cases = prepare_cases(fuzz_models())
    with _call_traces_silenced(not show_reverts), networks.parse_network_choice("ethereum:local:foundry") as provider:
        protocol = deploy(project, provider, list(accounts.test_accounts), cases)
        console.print(f"models and deployment ready in {time.perf_counter() - t:.1f} s; fuzzing {games} games "
                      f"(seed {seed})")

        def report(outcome: TrialOutcome, stats: FuzzStats) -> None:
            for violation in outcome.violations:
                console.print(f"[red]VIOLATION[/] seed {seed} trial {outcome.plan.trial}: {violation}  "
                              f"plan={outcome.plan}")
            if progress and stats.trials % 25 == 0:
                console.print(f"  {stats.games_fuzzed} games, {stats.trials} trials, "
                              f"{stats.honest_losses} honest losses")

        stats = fuzz(protocol, cases, seed, games, first_trial, report)
    summarize(stats)
    return stats


def summarize(stats: FuzzStats) -> None:
    console.print(f"games_fuzzed {stats.games_fuzzed} in {stats.trials} trials ({stats.faulty_claims} faulty "
                  f"claims), {stats.moves} moves, {stats.wall_s:.1f} s, {stats.games_per_s:.2f} games/s")
    console.print(f"honest_losses {stats.honest_losses} (0 expected), funds_lost_wei {stats.funds_lost_wei}")
    console.print(f"faults by operator: {dict(sorted(stats.ops_faulted.items()))}")
    console.print(f"faulty claims voided by a one-step proof, by operator: {dict(sorted(stats.ops_proven.items()))}")
    console.print(f"games by ending: {dict(sorted(stats.endings.items()))}")
    console.print(f"dishonest moves refused: {dict(sorted(stats.rejected.items()))}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=1000, help="play at least this many games (default 1000)")
    parser.add_argument("--seed", type=int, default=7641, help="run seed (default 7641)")
    parser.add_argument("--first-trial", type=int, default=0, help="first trial number (to replay one)")
    parser.add_argument("--show-reverts", action="store_true", help="print ape's call trace of each refused move")
    args = parser.parse_args(argv)
    stats = run(args.games, args.seed, args.first_trial, show_reverts=args.show_reverts)
    return 1 if stats.honest_losses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
