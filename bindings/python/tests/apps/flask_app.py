"""A Flask app as people write them, served unchanged by turbo (WSGI) and
gunicorn in test_frameworks.py: routes, JSON, a form, a file upload, a
streamed generator, an error handler, cookies, a redirect."""

import hashlib

from flask import Flask, Response, jsonify, redirect, request, stream_with_context

app = Flask(__name__)


class Teapot(Exception):
    pass


@app.errorhandler(Teapot)
def teapot(e):
    return jsonify(error="teapot", detail=str(e)), 418


@app.get("/")
def index():
    return "Hello, World!"


@app.get("/json/<int:n>")
def as_json(n):
    return jsonify(n=n, squares=[i * i for i in range(n)], q=request.args.getlist("q"))


@app.post("/form")
def form():
    return jsonify(fields=request.form.to_dict(flat=False), ctype=request.mimetype)


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(name=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   note=request.form.get("note"))


@app.get("/stream")
def stream():
    def gen():
        for i in range(5):
            yield f"line {i}\n"

    return Response(stream_with_context(gen()), mimetype="text/plain")


@app.get("/teapot")
def raise_teapot():
    raise Teapot("short and stout")


@app.get("/cookie")
def cookie():
    resp = jsonify(seen=request.cookies.get("visit"))
    resp.set_cookie("visit", "1", httponly=True, path="/")
    resp.set_cookie("theme", "dark", samesite="Lax")
    return resp


@app.get("/go")
def go():
    return redirect("/json/2?q=from-redirect")


@app.route("/methods", methods=["GET", "PUT", "DELETE"])
def methods():
    return jsonify(method=request.method, body=request.get_data(as_text=True))


@app.get("/headers")
def headers():
    return jsonify(ua=request.headers.get("User-Agent"), multi=request.headers.get("X-Multi"),
                   host=request.host, url=request.url, root=request.script_root)
