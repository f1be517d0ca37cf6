"""What only the embedded mode has: storage modes, reopening a folder, the GIL released."""

import sys
import threading
import time

import pytest

import cairn
from cairn import _cairn, errors


@pytest.mark.parametrize("mode", cairn.STORAGE_MODES)
def test_every_storage_mode_opens_and_stores(tmp_path, mode):
    db = cairn.open(str(tmp_path / mode), mode=mode)
    assert db.mode == mode
    db.create_collection("c").insert({"_id": 1})
    assert db["c"].get(1) == {"_id": 1}
    db.close()


def test_unknown_mode_is_an_invalid_request(tmp_path):
    with pytest.raises(errors.InvalidRequest) as caught:
        cairn.open(str(tmp_path / "d"), mode="fast")
    assert "memory-only" in caught.value.message


def test_data_survives_reopening(tmp_path):
    path = str(tmp_path / "d")
    with cairn.open(path) as db:
        db.create_collection("c").insert({"_id": "k", "v": 1})
    with cairn.open(path) as db:
        assert db["c"].get("k") == {"_id": "k", "v": 1}


def test_engine_calls_release_the_gil(tmp_path):
    """Another Python thread runs while the engine works. With the switch interval raised
    far out of reach, a thread holding the GIL keeps it until it releases it itself: the
    spinner can then only make progress inside native calls that release it. (Counted, not
    timed.)"""
    db = cairn.open(str(tmp_path / "d"))
    coll = db.create_collection("c")
    coll.insert_many([{"_id": i, "v": i} for i in range(3000)])
    progress = []
    started = threading.Event()
    stop = threading.Event()

    def spin():
        started.set()
        while not stop.is_set():
            progress.append(1)
            time.sleep(0)  # releases the GIL, so the main thread can take it back

    old_interval = sys.getswitchinterval()
    spinner = threading.Thread(target=spin)
    spinner.start()
    started.wait()
    sys.setswitchinterval(1000.0)
    try:
        before = len(progress)
        for _ in range(20):
            coll.aggregate([{"$group": {"_id": None, "s": {"$sum": "$v"}}}])
        during = len(progress) - before
    finally:
        sys.setswitchinterval(old_interval)
        stop.set()
        spinner.join()
    assert during > 0


def test_native_errors_are_package_exceptions(tmp_path):
    native = _cairn.Database(str(tmp_path / "d"), "persistent")
    with pytest.raises(errors.CollectionNotFound):
        native.insert("missing", '{"a": 1}')
    with pytest.raises(errors.InvalidRequest) as bad:
        native.insert("missing", "{not json")
    assert bad.value.code == "invalid_json"


def test_finished_transaction_refuses_more_work(tmp_path):
    db = cairn.open(str(tmp_path / "d"))
    db.create_collection("c")
    txn = db.transaction()
    txn.insert("c", {"_id": 1})
    txn.commit()
    with pytest.raises(errors.Conflict) as caught:
        txn.insert("c", {"_id": 2})
    assert caught.value.code == "transaction_finished"


def test_concurrent_transactions_conflict_retryably(tmp_path):
    db = cairn.open(str(tmp_path / "d"))
    coll = db.create_collection("c")
    coll.insert({"_id": 1, "n": 0})
    first, second = db.transaction(), db.transaction()
    first.get("c", 1)
    second.get("c", 1)
    first.update("c", 1, {"$inc": {"n": 1}})
    second.update("c", 1, {"$inc": {"n": 1}})
    first.commit()
    with pytest.raises(errors.Conflict) as caught:
        second.commit()
    assert caught.value.code == "conflict"
    assert coll.get(1)["n"] == 1
