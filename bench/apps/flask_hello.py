"""GET /hello for the benchmark, on Flask (served by gunicorn's sync
worker). The body is encoded per request, as the other apps do, and sent
without the newline Flask's jsonify appends, so every server answers the
same bytes."""
import json

from flask import Flask, Response

app = Flask(__name__)


@app.get("/hello")
def hello():
    return Response(json.dumps({"message": "Hello, World!"}, separators=(",", ":")),
                    mimetype="application/json")
