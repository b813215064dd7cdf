"""The app each host of deploy/multihost serves: who answered, and whom
it sees as the client (the PROXY protocol's address, not HAProxy's)."""
import os

from turbo import App, Request

app = App()
HOST = os.environ.get("TURBO_HOST_NAME", "?")


@app.get("/")
def whoami(req: Request):
    return {"host": HOST, "pid": os.getpid(), "client": req.client[0]}
