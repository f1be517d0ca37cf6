"""The package's API, each test run embedded and against a real server (conftest.py)."""

import datetime
import threading
import uuid

import pytest

import cairn
from cairn import errors


def test_insert_get_update_delete_round_trip(coll):
    doc_id = coll.insert({"_id": 1, "name": "Ada", "age": 36, "tags": ["x"]})
    assert doc_id == 1
    assert coll.get(1) == {"_id": 1, "name": "Ada", "age": 36, "tags": ["x"]}
    updated = coll.update(1, {"$inc": {"age": 1}, "$set": {"city": "London"}})
    assert updated["age"] == 37 and updated["city"] == "London"
    coll.replace(1, {"name": "Ada L."})
    assert coll.get(1) == {"_id": 1, "name": "Ada L."}
    assert coll.delete(1) is True
    assert coll.delete(1) is False
    assert coll.get(1) is None


def test_generated_ids_are_uuids_and_string_ids_stay_strings(coll):
    made = coll.insert({"n": 1})
    assert isinstance(made, uuid.UUID)
    assert coll.get(made)["n"] == 1
    # A numeric-looking string id is a string, not the integer 42.
    coll.insert({"_id": "42", "kind": "string"})
    coll.insert({"_id": 42, "kind": "int"})
    assert coll.get("42")["kind"] == "string"
    assert coll.get(42)["kind"] == "int"


def test_typed_values_round_trip(coll):
    when = datetime.datetime(2024, 5, 1, 10, 30, tzinfo=datetime.timezone.utc)
    ref = uuid.UUID("0190c3c0-0000-7000-8000-000000000000")
    coll.insert({"_id": "t", "when": when, "ref": ref, "raw": b"\x00\x01"})
    doc = coll.get("t")
    assert doc["when"] == when and doc["ref"] == ref and doc["raw"] == b"\x00\x01"
    assert [d["_id"] for d in coll.find({"when": {"$gte": when}})] == ["t"]


def test_upsert_inserts_then_replaces(coll):
    assert coll.upsert({"_id": "u", "v": 1}) == "inserted"
    assert coll.upsert({"_id": "u", "v": 2}) == "replaced"
    assert coll.get("u") == {"_id": "u", "v": 2}


def test_find_filters_sorts_limits_projects_and_pages(coll):
    coll.insert_many([{"_id": i, "n": i % 7, "name": f"d{i}"} for i in range(2500)])
    assert coll.count() == 2500
    assert coll.count({"n": 3}) == len([i for i in range(2500) if i % 7 == 3])
    # More than one page (1,000 per page) through the cursor.
    everything = list(coll.find())
    assert [d["_id"] for d in everything] == list(range(2500))
    top = coll.find({"n": {"$gte": 5}}, sort=[("n", -1), ("_id", 1)], skip=2, limit=3,
                    projection={"name": 1}).to_list()
    expected = sorted((i for i in range(2500) if i % 7 >= 5), key=lambda i: (-(i % 7), i))[2:5]
    assert top == [{"_id": i, "name": f"d{i}"} for i in expected]
    assert coll.find({"n": 99}).first() is None
    assert coll.find_one({"_id": 7})["name"] == "d7"
    assert len(coll.find(limit=1500).to_list()) == 1500
    assert coll.distinct("n") == list(range(7))


def test_aggregate_groups(coll):
    coll.insert_many([{"_id": i, "k": "a" if i < 3 else "b", "v": i} for i in range(5)])
    out = coll.aggregate([
        {"$group": {"_id": "$k", "total": {"$sum": "$v"}}},
        {"$sort": {"_id": 1}},
    ])
    assert out == [{"_id": "a", "total": 3}, {"_id": "b", "total": 7}]


def test_transaction_commits_on_success_and_rolls_back_on_exception(db, coll):
    with db.transaction() as txn:
        txn.insert(coll.name, {"_id": 1, "balance": 10})
        txn.insert(coll.name, {"_id": 2, "balance": 0})
    with db.transaction() as txn:
        txn.update(coll.name, 1, {"$inc": {"balance": -10}})
        txn.update(coll.name, 2, {"$inc": {"balance": 10}})
    assert [coll.get(1)["balance"], coll.get(2)["balance"]] == [0, 10]
    with pytest.raises(RuntimeError):
        with db.transaction() as txn:
            txn.insert(coll.name, {"_id": 3})
            raise RuntimeError("abort")
    assert coll.get(3) is None


def test_failing_transaction_stores_nothing(db, coll):
    coll.insert({"_id": 1})
    with pytest.raises(errors.UniqueViolation):
        with db.transaction() as txn:
            txn.insert(coll.name, {"_id": 2})
            txn.insert(coll.name, {"_id": 1})
    assert coll.get(2) is None


def test_embedded_transaction_reads_its_own_writes(tmp_path):
    db = cairn.open(str(tmp_path / "d"))
    people = db.create_collection("people")
    with db.transaction() as txn:
        assert txn.insert("people", {"_id": 1, "n": 1}) == 1
        assert txn.get("people", 1) == {"_id": 1, "n": 1}
        assert people.get(1) is None  # not visible outside before commit
    assert people.get(1) == {"_id": 1, "n": 1}


def test_server_transaction_reports_results_after_the_block(server):
    db = cairn.connect(server.url, user="root", password="root-test-password")
    db.create_collection("txn_results")
    with db.transaction() as txn:
        assert txn.insert("txn_results", {"_id": "a"}) is None
        txn.delete("txn_results", "missing")
        with pytest.raises(errors.CairnError) as caught:
            txn.get("txn_results", "a")
        assert caught.value.code == "unsupported"
    assert txn.results == [{"_id": "a"}, {"deleted": False}]
    db.drop_collection("txn_results")


def test_indexes_create_list_enforce_and_drop(coll):
    coll.insert({"_id": 1, "email": "a@x"})
    info = coll.create_index("by_email", ["email"], unique=True)
    assert info["name"] == "by_email"
    assert "by_email" in [i["name"] for i in coll.list_indexes()]
    with pytest.raises(errors.UniqueViolation) as caught:
        coll.insert({"_id": 2, "email": "a@x"})
    assert caught.value.code == "unique_violation" and caught.value.status == 409
    with pytest.raises(errors.CairnError) as exists:
        coll.create_index("by_email", ["email"])
    assert exists.value.code == "index_exists"
    coll.drop_index("by_email")
    coll.insert({"_id": 2, "email": "a@x"})
    with pytest.raises(errors.NotFound) as missing:
        coll.drop_index("by_email")
    assert missing.value.code == "index_not_found"


def test_errors_carry_code_message_details_and_class(db, coll):
    with pytest.raises(errors.CollectionNotFound) as missing:
        db["no_such_collection"].insert({"a": 1})
    assert missing.value.code == "collection_not_found"
    assert isinstance(missing.value, errors.NotFound)
    assert isinstance(missing.value, cairn.CairnError)
    with pytest.raises(errors.CollectionExists):
        db.create_collection(coll.name)
    coll.insert({"_id": 1})
    with pytest.raises(errors.UniqueViolation) as dup:
        coll.insert({"_id": 1})
    assert dup.value.details
    with pytest.raises(errors.InvalidRequest) as bad:
        list(coll.find({"a": {"$nope": 1}}))
    assert bad.value.code == "invalid_query"
    with pytest.raises(errors.DocumentNotFound):
        coll.update(99, {"$set": {"a": 1}})
    with pytest.raises(errors.DocumentNotFound):
        coll.replace(99, {"a": 1})
    with pytest.raises(errors.InvalidRequest):
        coll.insert({"$bad": 1})


def test_collections_list_create_drop(db):
    name = "lc_" + uuid.uuid4().hex[:8]
    db.create_collection(name)
    assert name in db.list_collections()
    db.drop_collection(name)
    assert name not in db.list_collections()


def test_calls_from_many_threads(coll):
    """Native calls release the GIL; the handle is shared safely across threads."""
    def work(base):
        for i in range(50):
            coll.insert({"_id": base + i})

    threads = [threading.Thread(target=work, args=(t * 1000,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert coll.count() == 200
