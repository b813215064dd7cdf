"""Served by test_processes.py under a non-default attribute name
(`other_app:api`) to check that module:attribute is honoured; its
annotations are strings (PEP 563), as in many real apps."""

from __future__ import annotations

from turbo import App, Request

api = App(server_name="other-app")


@api.post("/echo/{tag}")
def echo(tag: str, req: Request, n: int = 0):
    return {"tag": tag, "body": req.body.decode(), "ct": req.headers.get("content-type"), "n": n}
