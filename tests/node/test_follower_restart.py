"""kill -9 of a follower under load: restarted on the same store it resumes where it stopped (every
block it had served is still there), catches up with the leader and verifies from genesis."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from astera.node.serve import verify_store
from astera.wire import sign_tx

from .follow_harness import until
from .node_harness import NodeProcess, free_port, key, make_genesis


class FollowerProcess:
    """``astera serve --follow URL`` in a subprocess."""

    def __init__(self, leader: str, data: Path) -> None:
        self.leader, self.data, self.port = leader, data, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FollowerProcess:
        cmd = [sys.executable, "-m", "astera", "serve", "--follow", self.leader, "--data", str(self.data)]
        cmd += ["--port", str(self.port), "--log-level", "warning", "--snapshot-every", "5"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/status", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("follower did not start")

    def height(self) -> int:
        return int(httpx.get(self.url + "/status", timeout=10).json()["height"])

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def test_kill_9_of_a_follower_under_load_resumes_with_no_gap(tmp_path: Path) -> None:
    lead = NodeProcess(tmp_path / "leader", make_genesis()).start()
    follower = FollowerProcess(lead.url, tmp_path / "follower").start()
    stop = threading.Event()
    chain_id = httpx.get(lead.url + "/status").json()["chain_id"]

    def load() -> None:
        with httpx.Client(base_url=lead.url, timeout=30) as http:
            nonce = 0
            while not stop.is_set():
                tx = sign_tx(
                    key("alice"), chain_id, nonce, "deposit", {"pool": "core", "asset": "USDC", "amount": "1"}
                )
                assert http.post("/txs", json=tx).status_code == 200
                nonce += 1

    def leader_height() -> int:
        return int(httpx.get(lead.url + "/status", timeout=10).json()["height"])

    loader = threading.Thread(target=load)
    loader.start()
    try:
        until(lambda: follower.height() >= 20)
        served = follower.height()  # verified and served: must survive the kill
        follower.kill9()
        until(lambda: leader_height() > served + 5)  # the leader goes on meanwhile
        follower.start()
        resumed = follower.height()
        assert resumed >= served
        until(lambda: follower.height() > resumed + 5)  # and it follows on, under load
    finally:
        stop.set()
        loader.join(30)
    try:
        head = httpx.get(lead.url + "/status").json()
        until(lambda: follower.height() >= head["height"])
        assert httpx.get(follower.url + "/status").json()["state_hash"] == head["state_hash"]
    finally:
        follower.stop()
        lead.stop()
    report = verify_store(tmp_path / "follower", None)  # every block from genesis, no gap
    assert report.height == head["height"] and report.state_hash == head["state_hash"]
