"""examples/python_async_pg, as the README runs it: an async def item store
whose asyncpg pool the App's lifespan makes, against a real PostgreSQL
(the session's throwaway cluster). The example reads libpq's environment,
as scripts/pg-cluster.sh prints it."""

import importlib.util
import os

import pytest

from conftest import JSON, REPO_ROOT, Client, assert_json, assert_reply, dumps, needs

needs("asyncpg", "psycopg")  # the example uses asyncpg; the fixture, psycopg


def load_example():
    path = os.path.join(REPO_ROOT, "examples", "python_async_pg", "app.py")
    spec = importlib.util.spec_from_file_location("python_async_pg_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def item_store(pg_cluster, monkeypatch, serve):
    for key, value in (("PGHOST", pg_cluster.host), ("PGPORT", str(pg_cluster.port)),
                       ("PGDATABASE", pg_cluster.dbname), ("PGUSER", pg_cluster.user)):
        monkeypatch.setenv(key, value)
    app = serve(load_example().app)
    c = Client(app.port)
    yield c
    c.close()
    import psycopg
    with psycopg.connect(pg_cluster.conninfo, autocommit=True) as conn:
        conn.execute("DROP TABLE item")


def test_the_item_store_example(item_store):
    c = item_store
    assert_json(c.request("POST", "/items", body=b'{"name": "pen", "price": 1.5}'),
                {"id": 1, "name": "pen", "price": 1.5}, status=201)
    assert_json(c.request("POST", "/items", body=b'{"name": "ink", "price": 4}'),
                {"id": 2, "name": "ink", "price": 4.0}, status=201)
    assert_json(c.get("/items/1"), {"id": 1, "name": "pen", "price": 1.5})
    assert_json(c.get("/items/3"), {"detail": "no item 3"}, status=404)
    assert_json(c.get("/items?limit=1"), [{"id": 2, "name": "ink", "price": 4.0}])
    assert_json(c.get("/items"), [{"id": 2, "name": "ink", "price": 4.0},
                                  {"id": 1, "name": "pen", "price": 1.5}])
    assert_json(c.request("POST", "/items", body=b'{"name": "", "price": 1}'),
                {"detail": "name: a non-empty string is required"}, status=422)
    assert_json(c.request("POST", "/items", body=b'{"name": "x", "price": -1}'),
                {"detail": "price: a number >= 0 is required"}, status=422)
    assert_reply(c.request("POST", "/items", body=b"not json"), 400, JSON,
                 dumps({"detail": "the body is not JSON"}))
    assert_json(c.request("POST", "/items", body=b'["pen"]'),
                {"detail": "the body must be a JSON object"}, status=422)
