"""Runs the forge invariant suites with the long profile (`make fuzz-sol`) and records how many handler calls they
made and how many failed, as the part bench/results/reliability-forge.json that `make bench-reliability` merges.

Figures: `invariant_calls` (handler calls over all invariant functions, as forge reports them) and
`invariant_failures` (0 expected). The exit status is forge's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from bench._results import Result, write_results

# forge prints one line per invariant function: "[PASS] invariant_x() (runs: 400, calls: 100000, reverts: 0)"
LINE = re.compile(r"^\[(PASS|FAIL)[^\]]*\]\s+(invariant_\w+)\(\).*?runs: (\d+), calls: (\d+)", re.MULTILINE)


def main() -> int:
    env = dict(os.environ, FOUNDRY_PROFILE=os.environ.get("FOUNDRY_PROFILE", "fuzz"))
    started = time.time()
    run = subprocess.run(["forge", "test", "--use", "tools/solc", "--offline", "--match-contract", "Invariant"],
                         env=env, capture_output=True, text=True)
    wall = time.time() - started
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    found = LINE.findall(run.stdout)
    if not found:
        print("no invariant results in forge's output", file=sys.stderr)
        return run.returncode or 1
    case = f"forge invariants, profile {env['FOUNDRY_PROFILE']}"
    calls = sum(int(c) for _, _, _, c in found)
    write_results("reliability-forge", [
        Result(case, "invariant_calls", calls, "calls", note=f"{len(found)} invariant functions: "
               + ", ".join(f"{name} {c}" for _, name, _, c in found)),
        Result(case, "invariant_failures", sum(status == "FAIL" for status, *_ in found), "invariants",
               compared_with="expected", baseline=0),
        Result(case, "wall_s", round(wall, 1), "s", note="one run, compile included"),
    ])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
