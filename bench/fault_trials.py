"""`make fuzz-faults` / `python -m bench.fault_trials`: node processes under SIGKILL, RPC faults and reorgs.

Starts an anvil (ape-foundry), deploys the protocol with the tiny MLP, runs the submitter and challenger as real
`ape run` processes behind a seeded RPC fault proxy (offchain/nodes/rpc_proxy.py), and plays
`--kills` kill trials per node role (cycling through every phase of both scenarios), `--reorgs` reorg trials
(the last one an evm_revert to a snapshot); then audits the whole chain (offchain/nodes/fault_trials.py).
Writes bench/results/reliability-faults.json (metrics kill_trials, kill_recovered, rpc_fault_rate, rpc_calls,
reorgs, duplicate_txs, funds_lost_wei, wall_s) and bench/results/fault-trials-detail.json (every trial).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ape import accounts, chain, networks, project

from bench._results import RESULTS_DIR, Result, write_results
from offchain.nodes.fault_trials import audit, deploy_world, plan, run_trials
from offchain.nodes.rpc_proxy import RpcFaultProxy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kill trials per node role (submitter, challenger)")
    parser.add_argument("--reorgs", type=int, default=5, help="reorg trials (the last one an evm_revert)")
    parser.add_argument("--rate", type=float, default=0.12, help="share of RPC calls the proxy faults")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per trial")
    args = parser.parse_args()

    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="voai-faults-"))
    with networks.parse_network_choice("ethereum:local:foundry") as provider:
        world = deploy_world(project, provider, chain, accounts.test_accounts, workdir)
        trials = plan(args.kills, args.reorgs, args.seed)
        with RpcFaultProxy(provider.uri, rate=args.rate, seed=args.seed, lifetime=6 * 3600) as proxy:
            results, nodes = run_trials(world, proxy, trials, args.seed, timeout=args.timeout)
            stats = proxy.stats()
        report = audit(world)
    wall = time.time() - started
    kills = [r for r in results if r.fault == "kill"]
    reorgs = [r for r in results if r.fault in ("reorg", "revert")]
    case = f"tiny-mlp, {args.kills} kills/role, proxy {args.rate:.0%}, seed {args.seed}"
    figures = [
        Result(case, "kill_trials", len(kills), "trials"),
        Result(case, "kill_recovered", sum(r.ok for r in kills), "trials"),
        Result(case, "rpc_fault_rate", stats["fault_rate"], "share",
               note=f"faults {stats['faults']} over {stats['active_calls']} calls while active"),
        Result(case, "rpc_calls", stats["calls"], "calls"),
        Result(case, "reorgs", len(reorgs), "trials"),
        Result(case, "reorg_recovered", sum(r.ok for r in reorgs), "trials"),
        Result(case, "duplicate_txs", sum(d["count"] - 1 for d in report["duplicates"]), "txs"),
        Result(case, "failed_node_txs", len(report["reverted"]), "txs",
               note="node transactions mined with status 0 (reverted or out of gas), read back from the chain"),
        Result(case, "funds_lost_wei", report["funds_lost_wei"], "wei"),
        Result(case, "node_restarts_unexpected", nodes.unexpected_exits, "processes"),
        Result(case, "wall_s", wall, "s", note="one run"),
    ]
    write_results("reliability-faults", figures)
    detail = {"args": vars(args), "proxy": stats, "audit": report, "workdir": str(workdir),
              "trials": [vars(r) for r in results]}
    (RESULTS_DIR / "fault-trials-detail.json").write_text(json.dumps(detail, indent=2, default=str) + "\n")
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)}/{len(results)} trials ok; duplicates {report['duplicates']}; "
          f"reverted {report['reverted']}; funds lost {report['funds_lost_wei']} wei; wall {wall:.0f} s")


if __name__ == "__main__":
    main()
