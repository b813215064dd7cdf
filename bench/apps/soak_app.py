"""The Python server of the soak test: the same routes as soak-server, and
a thread that adds and removes /churn/{n} routes all the time."""
import threading
import time

from turbo import App, Request

app = App()


@app.get("/hello")
def hello():
    return {"message": "Hello, World!"}


@app.get("/users/{id}")
def user(id: str):
    return {"id": id}


@app.post("/echo")
def echo(req: Request):
    return req.body


def _churn():
    n = 0
    while True:
        path = f"/churn/{n % 16}"
        try:
            app.remove_route(path)
        except LookupError:
            app.add_route(path, lambda: "churn")
        n += 1
        time.sleep(0.002)


threading.Thread(target=_churn, daemon=True).start()
