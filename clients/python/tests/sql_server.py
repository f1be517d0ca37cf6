"""A ``cairn serve --pg-listen`` for the SQL driver tests (``test_sql_*.py``): the binary is
``$CAIRN_BIN``, else ``target/debug/cairn`` under ``$CARGO_TARGET_DIR`` or the workspace. This
module needs neither conftest nor the ``cairn`` package."""

import os
import pathlib
import signal
import subprocess

import pytest

ROOT_PASSWORD = "root-test-password"
WORKSPACE = pathlib.Path(__file__).resolve().parents[3]


def server_binary():
    explicit = os.environ.get("CAIRN_BIN")
    if explicit:
        return explicit
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target"))
    candidate = target / "debug" / "cairn"
    return str(candidate) if candidate.exists() else None


def serve_sql(data_dir):
    """Starts the server on free ports; yields the SQL port; stops it with SIGTERM."""
    binary = server_binary()
    if binary is None:
        pytest.skip("no cairn binary: set CAIRN_BIN or build it with `cargo build -p cairn-cli`")
    env = {k: v for k, v in os.environ.items() if k not in ("CAIRN_DATA", "CAIRN_MODE")}
    env["CAIRN_ROOT_PASSWORD"] = ROOT_PASSWORD
    process = subprocess.Popen(
        [binary, "--data", str(data_dir), "serve",
         "--listen", "127.0.0.1:0", "--pg-listen", "127.0.0.1:0", "--log", "warn"],
        stdout=subprocess.PIPE, env=env, text=True,
    )
    port = None
    # The banner's `sql:` line names the port (`psql -h 127.0.0.1 -p PORT ...`).
    for line in process.stdout:
        if line.startswith("sql:"):
            words = line.split()
            port = int(words[words.index("-p") + 1])
            break
    if port is None:
        process.kill()
        pytest.fail("cairn serve printed no sql line")
    try:
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
