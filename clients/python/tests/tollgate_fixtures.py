"""pytest plugin: a real ``tollgate serve`` (and a real redis-server) for the client's tests.

The server is the repository's CLI (``packages/server/dist/cli.js``, built by ``npm run build``)
started with Node on a random port in a temporary directory, exactly as a user runs it. What a
test needs but cannot find is skipped with a loud message, or fails the run when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "packages" / "server" / "dist" / "cli.js"
ADMIN_TOKEN = "py-admin-token-0123456789abcdef"
SERVICE_TOKEN = "py-service-token-0123456789abcdef"


def unavailable(what: str) -> None:
    """Skips loudly, or fails in CI where nothing may be skipped."""
    message = f"SKIPPED: {what}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must not skip; see .ci/run)", pytrace=False)
    print(f"\n*** {message} ***")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TollgateServer:
    """One ``tollgate serve`` child process; ``stop`` and ``start`` keep its port and data."""

    def __init__(self, node: str, printed_tokens: bool = False) -> None:
        self.node = node
        # False: fixed tokens by environment; True: the tokens `tollgate serve` prints on first start.
        self.printed_tokens = printed_tokens
        self.cwd = tempfile.mkdtemp(prefix="tollgate-py-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_token = SERVICE_TOKEN
        self.admin_token = ADMIN_TOKEN
        self.process: Optional[subprocess.Popen] = None
        self.output: List[str] = []

    def start(self) -> None:
        env = {"PATH": os.environ.get("PATH", "")}
        if not self.printed_tokens:
            env.update({"TOLLGATE_ADMIN_TOKEN": ADMIN_TOKEN, "TOLLGATE_SERVICE_TOKEN": SERVICE_TOKEN})
        self.process = subprocess.Popen(
            [self.node, str(CLI), "serve", "--port", str(self.port), "--host", "127.0.0.1"],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        listening = threading.Event()
        process = self.process

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line)
                if "listening on" in line:
                    listening.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not listening.wait(0.05):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tollgate serve did not start:\n" + "".join(self.output))
        if self.printed_tokens and self.service_token == SERVICE_TOKEN:
            printed = "".join(self.output)
            self.service_token = re.search(r"^export TOLLGATE_SERVICE_TOKEN=(\S+)$", printed, re.M).group(1)  # type: ignore[union-attr]
            self.admin_token = re.search(r"^export TOLLGATE_ADMIN_TOKEN=(\S+)$", printed, re.M).group(1)  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def admin(self, method: str, path: str, body: Optional[dict] = None) -> dict:
        answer = httpx.request(
            method,
            self.url + path,
            json=body,
            headers={"authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def create_key(self, plan: str, overrides: Optional[list] = None, scopes: Optional[list] = None) -> Dict[str, str]:
        """A new API key on ``plan`` (for a fresh owner); returns the key record with its ``secret``."""
        body: dict = {"owner": f"org:{uuid.uuid4().hex[:12]}", "plan": plan}
        if scopes is not None:
            body["scopes"] = scopes
        key = self.admin("POST", "/v1/admin/keys", body)
        if overrides:
            self.admin("PUT", f"/v1/admin/keys/{key['id']}/overrides", {"limits": overrides})
        return key


def _node() -> Optional[str]:
    return os.environ.get("TOLLGATE_NODE") or shutil.which("node")


def _start_server(printed_tokens: bool = False) -> TollgateServer:
    node = _node()
    if node is None:
        unavailable("node is not on PATH (set TOLLGATE_NODE); the tests need a real tollgate serve")
    if not CLI.exists():
        unavailable(f"{CLI} is missing; run `npm run build` first")
    server = TollgateServer(node, printed_tokens)  # type: ignore[arg-type]
    server.start()
    return server


@pytest.fixture(scope="session")
def tollgate_server() -> Iterator[TollgateServer]:
    """One server shared by the session; tests keep apart by using fresh subjects."""
    server = _start_server()
    yield server
    server.stop()


@pytest.fixture
def own_server() -> Iterator[TollgateServer]:
    """A server of the test's own, which it may stop."""
    server = _start_server()
    yield server
    server.stop()


@pytest.fixture
def fresh() -> str:
    """A unique id, so tests sharing the server never count against each other."""
    return uuid.uuid4().hex[:16]


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a server slower than any timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence)."""
    binary = shutil.which("redis-server") or next(
        (path for path in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(path, os.X_OK)), None
    )
    if binary is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="tollgate-py-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)


def parse_structured(value: str) -> Dict[str, Dict[str, str]]:
    """``"minute";r=9;t=60`` -> ``{"minute": {"r": "9", "t": "60"}}`` (enough for tests)."""
    result: Dict[str, Dict[str, str]] = {}
    for member in value.split(","):
        match = re.match(r'\s*"([^"]+)"(.*)', member)
        if match:
            result[match.group(1)] = dict(
                part.split("=", 1) for part in match.group(2).split(";") if "=" in part
            )
    return result


class RunningExample:
    def __init__(self, process: subprocess.Popen, url: str, output: List[str]) -> None:
        self.process, self.url, self.output = process, url, output

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_example(script: Path, env: Dict[str, str]) -> RunningExample:
    """Runs an example exactly as its README says (``python3 script.py``) on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=str(script.parent),
        env={"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: List[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/healthz", timeout=0.5)
            return RunningExample(process, url, output)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{script.name} did not start:\n" + "".join(output))
            time.sleep(0.1)


@pytest.fixture(autouse=True)
def fresh_outage_log() -> None:
    """Each test starts with the client's outage log quiet (it throttles across calls)."""
    from tollgate import _protocol

    _protocol.outages = _protocol._OutageLog()
