"""Fixtures: every API test runs twice, against an embedded database and against a real
``cairn serve`` (started like crates/cairn-cli/tests/server_support/mod.rs does: port 0,
the address read from its first line, the root password from ``CAIRN_ROOT_PASSWORD``).

The server binary is ``$CAIRN_BIN`` (CI sets it to the one ``cargo test`` just built), else
``target/debug/cairn`` under ``$CARGO_TARGET_DIR`` or the workspace. Without one, the server
half is skipped with that reason (the embedded half still runs).
"""

import os
import queue
import shutil
import signal
import subprocess
import threading
import uuid

import pytest

import cairn
from sql_server import server_binary

ROOT_PASSWORD = "root-test-password"
#: Longest wait for the server's address line (a debug build on a busy machine; bounds a hang).
STARTUP_WAIT_S = 60



class Server:
    """A running ``cairn serve`` on a scratch folder."""

    def __init__(self, binary, data_dir, extra=()):
        env = {k: v for k, v in os.environ.items() if k not in ("CAIRN_DATA", "CAIRN_MODE")}
        env["CAIRN_ROOT_PASSWORD"] = ROOT_PASSWORD
        self.process = subprocess.Popen(
            [binary, "--data", str(data_dir), "serve", "--listen", "127.0.0.1:0",
             "--log", "warn", *extra],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        lines = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True
        ).start()
        prefix = "cairn serve: listening on "
        while True:
            try:
                line = lines.get(timeout=STARTUP_WAIT_S)
            except queue.Empty:
                self.stop()
                raise RuntimeError("cairn serve printed no address")
            if line.startswith(prefix):
                self.url = line[len(prefix):].split()[0]
                break

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    binary = server_binary()
    if binary is None:
        pytest.skip("no cairn binary: set CAIRN_BIN or build it with `cargo build -p cairn-cli`")
    running = Server(binary, tmp_path_factory.mktemp("server-data"))
    yield running
    running.stop()


@pytest.fixture(params=["embedded", "server"])
def db(request, tmp_path):
    """A database of each kind, with a fresh collection name space per test."""
    if request.param == "embedded":
        database = cairn.open(str(tmp_path / "data"), mode="persistent")
    else:
        running = request.getfixturevalue("server")
        database = cairn.connect(running.url, user="root", password=ROOT_PASSWORD)
    yield database
    if request.param == "server":
        for name in database.list_collections():
            database.drop_collection(name)
    database.close()


@pytest.fixture
def coll(db):
    """A fresh collection (unique name: the server is shared by the session)."""
    return db.create_collection("c_" + uuid.uuid4().hex[:12])
