"""Writes benchmark results in the shared format (bench/results/<area>.json) and prints them as a table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Result:
    """One figure: `value` in `unit`, beside `baseline` (what it is compared with, when there is one)."""

    case: str
    metric: str
    value: float
    unit: str
    compared_with: str | None = None
    baseline: float | None = None
    note: str | None = None


def machine() -> str:
    """Cores, memory and CPU model of this machine, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, {cpu}"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_results(area: str, results: list[Result], console: Console | None = None) -> Path:
    """Writes bench/results/<area>.json and prints the same figures as a table; returns the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{area}.json"
    payload = {
        "area": area,
        "commit": git_commit(),
        "machine": machine(),
        "results": [{k: v for k, v in asdict(r).items() if v is not None} for r in results],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")

    table = Table(title=f"bench {area}  ({payload['machine']})")
    for column in ("case", "metric", "value", "unit", "baseline", "compared with"):
        table.add_column(column, justify="right" if column in ("value", "baseline") else "left")
    for r in results:
        table.add_row(
            r.case, r.metric, f"{r.value:.6g}", r.unit,
            "" if r.baseline is None else f"{r.baseline:.6g}", r.compared_with or "",
        )
    (console or Console()).print(table)
    return path
