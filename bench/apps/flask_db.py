"""The TechEmpower tests on Flask + psycopg (synchronous): the suite's WSGI
reference, served by gunicorn's gthread worker (bench/tfb/serve flask).

    GET /plaintext /json /db /queries?queries=N /fortunes /updates?queries=N

Answers as bench/apps/fastapi_db.py gives them (same clamping of `queries`,
same ordering of /updates' ids so concurrent updates cannot deadlock), but
in the synchronous style: each gunicorn thread owns one psycopg connection
(autocommit, made on its first request), and a request blocks its thread
while PostgreSQL answers. The fortunes page is a Jinja2 template rendered
by Flask with autoescaping, as a Flask user would write it. /json and the
row answers are serialized per request with json.dumps.

The database: DATABASE_URL (a postgresql:// URL, as bench/tfb/db.sh prints it).
"""
import json
import os
import random
import re
import threading

import psycopg
from flask import Flask, Response, render_template_string, request

WORLD_ROWS = 10000
MAX_QUERIES = 500
SQL_WORLD = "SELECT id, randomNumber FROM World WHERE id = %s"
SQL_FORTUNES = "SELECT id, message FROM Fortune"
SQL_UPDATE = "UPDATE World SET randomNumber = %s WHERE id = %s"
EXTRA_FORTUNE = (0, "Additional fortune added at request time.")
INTEGER = re.compile(r"[+-]?[0-9]+")
FORTUNES_PAGE = (
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    "<tr><th>id</th><th>message</th></tr>"
    "{% for id, message in rows %}<tr><td>{{ id }}</td><td>{{ message }}</td></tr>{% endfor %}"
    "</table></body></html>"
)

app = Flask(__name__)
local = threading.local()


def conn():
    c = getattr(local, "conn", None)
    if c is None:
        # prepare_threshold=0: psycopg prepares every statement on first use.
        c = local.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=0)
    return c


def dumps(obj):
    return Response(json.dumps(obj, separators=(",", ":")), mimetype="application/json")


def queries_param():
    value = request.args.get("queries")
    if value is None or not INTEGER.fullmatch(value):
        return 1
    return min(max(int(value), 1), MAX_QUERIES)


def random_id():
    return random.randint(1, WORLD_ROWS)


@app.get("/plaintext")
def plaintext():
    return Response(b"Hello, World!", mimetype="text/plain")


@app.get("/json")
def json_():
    return dumps({"message": "Hello, World!"})


@app.get("/db")
def db():
    with conn().cursor() as cur:
        i, n = cur.execute(SQL_WORLD, (random_id(),)).fetchone()
    return dumps({"id": i, "randomNumber": n})


@app.get("/queries")
def queries():
    with conn().cursor() as cur:
        rows = [cur.execute(SQL_WORLD, (random_id(),)).fetchone() for _ in range(queries_param())]
    return dumps([{"id": i, "randomNumber": n} for i, n in rows])


@app.get("/fortunes")
def fortunes():
    with conn().cursor() as cur:
        rows = cur.execute(SQL_FORTUNES).fetchall()
    rows.append(EXTRA_FORTUNE)
    rows.sort(key=lambda r: r[1])
    return Response(render_template_string(FORTUNES_PAGE, rows=rows), mimetype="text/html")


@app.get("/updates")
def updates():
    ids = sorted(random.sample(range(1, WORLD_ROWS + 1), queries_param()))
    worlds = []
    with conn().cursor() as cur:
        for i in ids:
            old = cur.execute(SQL_WORLD, (i,)).fetchone()[1]
            new = random_id()
            while new == old:
                new = random_id()
            worlds.append((i, new))
        cur.executemany(SQL_UPDATE, [(n, i) for i, n in worlds])
    return dumps([{"id": i, "randomNumber": n} for i, n in worlds])
