"""Runs the built `sluice` binary (gateway and mock provider) for black-box tests.

Each process is started on an ephemeral port; the harness reads its stdout
until the `listening on http://...` line, and keeps every later line so tests
can inspect the JSON request records the gateway logs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SLUICE_BIN", str(ROOT / "target" / "debug" / "sluice"))
LISTENING = re.compile(r"listening on (http://\S+)")
ADMIN = re.compile(r"Admin API on (http://\S+)")

# Every gateway under test logs at this level (TRACE by default), and when
# it stops, its whole output and every file of its data directory (the
# SQLite database and WAL, the spool) are searched for secrets: the
# canary keys the tests configure and any generated virtual or admin key.
# `conftest.py` fails the session if anything was found.
LOG_LEVEL = os.environ.get("SLUICE_TEST_LOG_LEVEL", "trace")
SECRETS = re.compile(rb"sk-[A-Za-z-]*canary[A-Za-z0-9_-]*|sk-sluice-(?:admin-)?[A-Za-z0-9]{24,}")
LEAKS: list[str] = []
GATEWAYS: list["Proc"] = []


def scan_for_secrets(where: str, data: bytes) -> None:
    """Records every secret found in `data` (from `where`) in LEAKS."""
    for m in set(SECRETS.findall(data)):
        LEAKS.append(f"{where}: {m.decode(errors='replace')}")


class Proc:
    """A sluice subprocess with captured output."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        full_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        full_env.update(env or {})
        self.gateway = args[:1] == ["serve"]
        self.scanned = False
        if self.gateway:
            if "--log-level" not in args:
                args = [*args, "--log-level", LOG_LEVEL]
            GATEWAYS.append(self)
        self.p = subprocess.Popen(
            [BIN, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError("sluice did not start:\n" + "\n".join(self.lines))

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = LISTENING.search(line)
            if m and self.url is None:
                self.url = m.group(1)
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.scan()
        data_dir = getattr(self, "data_dir", None)
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    def scan(self) -> None:
        """Searches this gateway's output and data files for secrets."""
        if not self.gateway or self.scanned:
            return
        self.scanned = True
        name = " ".join(self.p.args[1:3]) if isinstance(self.p.args, list) else "gateway"
        scan_for_secrets(f"output of {name}", "\n".join(self.lines).encode())
        data_dir = getattr(self, "data_dir", None)
        for path in Path(data_dir).rglob("*") if data_dir else []:
            if path.is_file() and path.name != "admin.key":
                scan_for_secrets(str(path), path.read_bytes())

    def records(self) -> list[dict]:
        out = []
        for line in list(self.lines):
            if line.startswith("{") and '"type":"request"' in line:
                out.append(json.loads(line))
        return out

    def record(self, request_id: str, timeout: float = 5.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.records():
                if r["request_id"] == request_id:
                    return r
            time.sleep(0.05)
        raise AssertionError(f"no record for {request_id}")


class Mock(Proc):
    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(["mock", "--listen", "127.0.0.1:0"], env=env)

    def requests(self) -> list[dict]:
        return httpx.get(f"{self.url}/__mock/requests").json()

    def reset(self) -> None:
        httpx.delete(f"{self.url}/__mock/requests")

    def script(self, steps: list[dict]) -> None:
        httpx.post(f"{self.url}/__mock/script", json=steps).raise_for_status()


def gateway(config_yaml: str, env: dict[str, str] | None = None) -> Proc:
    """Starts `sluice serve` with `config_yaml` (written to a temp file)."""
    fd, path = tempfile.mkstemp(suffix=".yaml", prefix="sluice-test-")
    with os.fdopen(fd, "w") as f:
        f.write(config_yaml)
    data_dir = tempfile.mkdtemp(prefix="sluice-data-")
    proc = Proc(
        [
            "serve",
            "--config",
            path,
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir,
            "--log-format",
            "json",
        ],
        env=env,
    )
    proc.data_dir = data_dir
    proc.config_path = path
    m = next((ADMIN.search(line) for line in proc.lines if ADMIN.search(line)), None)
    proc.admin_url = m.group(1) if m else None
    return proc


def admin_key(proc: Proc) -> str:
    """The admin key a gateway generated into its data directory."""
    return Path(proc.data_dir, "admin.key").read_text().strip()
