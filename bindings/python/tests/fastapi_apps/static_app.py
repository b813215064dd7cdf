"""Static files under a mount (app.mount + StaticFiles, html=True), next
to an ordinary route. The files are fastapi_apps/static/ (shipped), the
same directory for both sides; secret.txt beside it must stay unreachable."""
import os

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

app = FastAPI()


@app.get("/ping")
def ping():
    return {"ok": True}


app.mount("/static", StaticFiles(directory=HERE, html=True), name="static")
