"""A node as a separate `ape run submitter|challenger` process on a running chain (demo and benchmarks).

The process reaches the chain through ape-foundry's APE_FOUNDRY_HOST, so it shares the anvil the parent
started; its log (structured `event=` lines) goes to a file the parent reads.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


class NodeProcessError(RuntimeError):
    """The node process exited early or did not start in time."""


class NodeProcess:
    """One `ape run <role>` process talking to the demo's anvil; its log goes to a file."""

    def __init__(self, role: str, account: str, model_file: Path | list[Path], workdir: Path, uri: str, *extra: str,
                 instance: int = 0):
        """``model_file``: the model file to serve, or a list of them. ``instance`` > 0 names a restart's log
        (``<role>-<account>.<instance>.log``); the SQLite state file is the same for every instance."""
        self.role = role
        files = model_file if isinstance(model_file, list) else [model_file]
        model_args = [arg for f in files for arg in ("--model", str(f))]
        self.log_path = workdir / f"{role}-{account.replace(':', '')}{f'.{instance}' if instance else ''}.log"
        env = dict(os.environ, APE_FOUNDRY_HOST=uri, PYTHONUNBUFFERED="1")
        cmd = ["ape", "run", role, "--network", "ethereum:local:foundry", "--account", account,
               *model_args, "--state", str(workdir / f"{role}-{account.replace(':', '')}.sqlite"),
               "--interval", "0.3", *extra]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def events(self) -> list[str]:
        return [line.split("event=", 1)[1].strip() for line in self.log_path.read_text().splitlines() if "event=" in line]

    def wait_started(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.startswith("started") for e in self.events()):
                return
            if self.proc.poll() is not None:
                raise NodeProcessError(f"{self.role} exited early:\n{self.log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        raise NodeProcessError(f"{self.role} did not start within {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed by the node (a crash)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
