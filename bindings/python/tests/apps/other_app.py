"""Served by test_processes.py under a non-default attribute name
(`other_app:api`) to check that module:attribute is honoured; its
annotations are strings (PEP 563), as in many real apps."""

from __future__ import annotations

from turbo import App, Request

# Its own Server header and body limit: every way of serving it must apply
# the App's configuration.
api = App(server_name="other-app", max_body_bytes=64)


@api.post("/echo/{tag}")
def echo(tag: str, req: Request, n: int = 0):
    return {"tag": tag, "body": req.body.decode(), "ct": req.headers.get("content-type"), "n": n}
