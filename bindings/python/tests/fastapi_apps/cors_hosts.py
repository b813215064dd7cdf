"""CORS and TrustedHost middleware (Starlette's, by app.add_middleware),
nested with an http middleware and an exception handler."""

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse

app = FastAPI()

app.add_middleware(CORSMiddleware, allow_origins=["https://a.example"],
                   allow_origin_regex=r"https://.*\.b\.example",
                   allow_credentials=True, allow_methods=["GET", "POST", "OPTIONS"],
                   allow_headers=["X-Token"], expose_headers=["X-Why"], max_age=60)
app.add_middleware(TrustedHostMiddleware,
                   allowed_hosts=["t", "testserver", "127.0.0.1", "*.trusted.example",
                                  "www.c.example"])


@app.middleware("http")
async def tag(request: Request, call_next):
    response = await call_next(request)
    response.headers["X-Why"] = "tagged"
    return response


class Gone(Exception):
    pass


@app.exception_handler(Gone)
async def gone(request: Request, exc: Gone):
    return JSONResponse({"gone": True}, status_code=410)


@app.get("/items/{item_id}")
def read_item(item_id: int):
    if item_id == 0:
        raise HTTPException(404, "no item")
    if item_id == 1:
        raise Gone()
    return {"item_id": item_id}


@app.api_route("/items/{item_id}", methods=["OPTIONS"])
def options_item(item_id: int):
    return {"options": item_id}


@app.post("/items")
async def create_item(request: Request):
    return {"created": True}
