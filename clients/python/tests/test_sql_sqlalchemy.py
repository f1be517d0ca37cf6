"""SQLAlchemy (its psycopg 3 dialect, ``postgresql+psycopg://``) against ``cairn serve
--pg-listen``, as an application uses it: the dialect's connect-time queries (server
version, schema, isolation level, a savepoint around psycopg's type lookup), ``inspect()``
(tables, columns, indexes, primary key, ``has_table``), a ``Table`` reflected from the
server, a Core select with a bound parameter, and an insert/select round trip. Skipped when
SQLAlchemy is not installed (CI installs the pinned version into the test venv) or there is
no server binary."""

import uuid

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

from sqlalchemy import MetaData, Table, bindparam, insert, select, text  # noqa: E402

from sql_server import ROOT_PASSWORD, serve_sql  # noqa: E402


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    for port in serve_sql(tmp_path_factory.mktemp("sqlalchemy-data")):
        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://root:{ROOT_PASSWORD}@127.0.0.1:{port}/cairn"
        )
        yield engine
        engine.dispose()


def _create(engine, statements):
    # DDL commits on its own in Cairn (it cannot join a block): run it in autocommit.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_the_dialect_connects_and_reads_version_and_schema(engine):
    with engine.connect() as conn:
        assert conn.dialect.server_version_info[0] == 15
        assert conn.dialect.default_schema_name == "public"
        assert conn.execute(text("select pg_catalog.version()")).scalar().startswith(
            "PostgreSQL 15"
        )
        assert conn.execute(text("show transaction isolation level")).scalar() == "serializable"


def test_inspect_lists_tables_columns_indexes_and_the_key(engine):
    table = "sa_" + uuid.uuid4().hex[:10]
    _create(engine, [
        f"CREATE TABLE {table} (name TEXT NOT NULL, n BIGINT, score DOUBLE PRECISION)",
        f"CREATE INDEX {table}_n ON {table} (n)",
        f"CREATE UNIQUE INDEX {table}_name ON {table} (name)",
    ])
    inspector = sqlalchemy.inspect(engine)
    assert table in inspector.get_table_names()
    assert inspector.has_table(table)
    assert not inspector.has_table("no_such_table")
    columns = [
        (c["name"], type(c["type"]).__name__, c["nullable"])
        for c in inspector.get_columns(table)
    ]
    assert columns == [
        ("_id", "TEXT", False),
        ("name", "TEXT", False),
        ("n", "BIGINT", True),
        ("score", "DOUBLE_PRECISION", True),
    ]
    indexes = sorted(
        (i["name"], i["column_names"], i["unique"]) for i in inspector.get_indexes(table)
    )
    assert indexes == [(f"{table}_n", ["n"], False), (f"{table}_name", ["name"], True)]
    key = inspector.get_pk_constraint(table)
    assert key["constrained_columns"] == ["_id"]
    assert key["name"] == f"{table}_pkey"
    # Nothing of another kind is reported.
    assert inspector.get_foreign_keys(table) == []
    assert inspector.get_view_names() == []


def test_core_select_with_a_bound_parameter_and_an_insert_round_trip(engine):
    table = "sb_" + uuid.uuid4().hex[:10]
    _create(engine, [f"CREATE TABLE {table} (name TEXT NOT NULL, n BIGINT)"])
    items = Table(table, MetaData(), autoload_with=engine)
    assert [c.name for c in items.columns] == ["_id", "name", "n"]
    assert [c.name for c in items.primary_key.columns] == ["_id"]
    with engine.begin() as conn:
        conn.execute(
            insert(items),
            [{"_id": "a", "name": "x", "n": 1}, {"_id": "b", "name": "y", "n": 2},
             {"_id": "c", "name": "z", "n": 3}],
        )
    with engine.connect() as conn:
        query = (
            select(items.c.name, items.c.n)
            .where(items.c.n >= bindparam("least"))
            .order_by(items.c.n)
        )
        assert conn.execute(query, {"least": 2}).all() == [("y", 2), ("z", 3)]
        one = conn.execute(select(items.c.n).where(items.c._id == "b")).scalar_one()
        assert one == 2
    # A block rolled back leaves nothing.
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            conn.execute(insert(items), {"_id": "d", "name": "w", "n": 4})
            raise RuntimeError("roll back")
    with engine.connect() as conn:
        count = conn.execute(select(sqlalchemy.func.count()).select_from(items)).scalar()
        assert count == 3
