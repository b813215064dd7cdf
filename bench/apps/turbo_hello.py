"""GET /hello for the benchmark, on libturbo's Python binding."""
from turbo import App

app = App()


@app.get("/hello")
def hello():
    return {"message": "Hello, World!"}
