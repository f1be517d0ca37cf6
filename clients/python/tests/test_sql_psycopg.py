"""psycopg 3 against ``cairn serve --pg-listen``: SCRAM login, the extended protocol with
parameters, transactions, SQLSTATEs, and pgvector's operators, as an application would use
them. Skipped when psycopg is not installed (CI installs it into the test venv) or there is no
server binary."""

import uuid

import pytest

psycopg = pytest.importorskip("psycopg")

from sql_server import ROOT_PASSWORD, serve_sql


@pytest.fixture(scope="module")
def sql_port(tmp_path_factory):
    yield from serve_sql(tmp_path_factory.mktemp("sql-data"))


@pytest.fixture
def conn(sql_port):
    with psycopg.connect(
        host="127.0.0.1", port=sql_port, user="root", password=ROOT_PASSWORD, dbname="cairn"
    ) as connection:
        yield connection


def test_parameters_types_and_transactions(conn):
    table = "t_" + uuid.uuid4().hex[:10]
    conn.autocommit = True
    conn.execute(f"CREATE TABLE {table} (name TEXT NOT NULL, n BIGINT, x DOUBLE PRECISION)")
    # Autocommit, as psycopg recommends with `transaction()` blocks: each block is BEGIN ..
    # COMMIT. (Without it psycopg nests a block inside its implicit transaction as a SAVEPOINT,
    # which Cairn refuses with 0A000.)
    with conn.transaction():
        for i in range(5):
            conn.execute(
                f"INSERT INTO {table} (_id, name, n, x) VALUES (%s, %s, %s, %s)",
                (str(i), f"row{i}", i, i / 2),
            )
    cur = conn.execute(f"SELECT name, n, x FROM {table} WHERE n >= %s ORDER BY n", (3,))
    assert [d.name for d in cur.description] == ["name", "n", "x"]
    assert cur.fetchall() == [("row3", 3, 1.5), ("row4", 4, 2.0)]
    # A failed block stores nothing.
    with pytest.raises(RuntimeError):
        with conn.transaction():
            conn.execute(f"DELETE FROM {table}")
            raise RuntimeError("roll back")
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (5,)


def test_errors_carry_postgresql_sqlstates(conn):
    table = "u_" + uuid.uuid4().hex[:10]
    conn.autocommit = True
    conn.execute(f"CREATE TABLE {table} (email TEXT UNIQUE)")
    conn.execute(f"INSERT INTO {table} (email) VALUES (%s)", ("a@example.com",))
    with pytest.raises(psycopg.errors.UniqueViolation) as err:
        conn.execute(f"INSERT INTO {table} (email) VALUES (%s)", ("a@example.com",))
    assert err.value.sqlstate == "23505"
    with pytest.raises(psycopg.Error) as err:
        conn.execute("SELECT * FROM no_such_table")
    assert err.value.sqlstate == "42P01"


def test_nearest_vectors_with_pgvector_operators(conn):
    table = "v_" + uuid.uuid4().hex[:10]
    conn.autocommit = True
    conn.execute(f"CREATE TABLE {table} (label TEXT NOT NULL, emb vector(3))")
    conn.execute(
        f"INSERT INTO {table} (_id, label, emb) VALUES "
        "(1, 'x', ARRAY[1.0, 0.0, 0.0]), (2, 'y', ARRAY[0.0, 1.0, 0.0]), (3, 'xy', ARRAY[1.0, 1.0, 0.0])"
    )
    conn.execute(f"CREATE INDEX {table}_emb ON {table} USING hnsw (emb vector_cosine_ops)")
    rows = conn.execute(
        f"SELECT label, emb <=> '[1, 0.1, 0]' AS d FROM {table} ORDER BY d LIMIT 2"
    ).fetchall()
    assert [r[0] for r in rows] == ["x", "xy"]
    assert rows[0][1] < rows[1][1]
