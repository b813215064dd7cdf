"""The Python half of the turbo-mixed example."""
from turbo import App

app = App()


@app.get("/py/hello/{name}")
def hello(name: str):
    return {"hello": name, "from": "python"}
