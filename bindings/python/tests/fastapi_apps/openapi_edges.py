"""Corners of the OpenAPI schema: return annotations that are or are not
response models, list response models with a status, parameters'
titles and constraints with defaults, bytes, a router included as
deprecated with dependencies reading headers, `default` responses with a
model, optional bodies."""

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field


class Tag(BaseModel):
    """A label.\finternal"""
    label: str = Field(max_length=20, title="The label")
    weight: int = 0


class Error(BaseModel):
    code: int
    reason: Optional[str] = None


app = FastAPI(title="Edges", version="0.0.1")


@app.post("/tags", response_model=list[Tag], status_code=201)
def make_tags(tag: Tag, times: Annotated[int, Query(ge=1, le=5, title="Copies")] = 1):
    return [tag] * times


@app.get("/plain")
def plain() -> dict:
    return {"a": 1}


@app.get("/nothing")
def nothing() -> None:
    return None


@app.get("/json")
def as_json() -> JSONResponse:
    return JSONResponse({"j": 1})


@app.get("/text", responses={"default": {"model": Error}})
def text() -> PlainTextResponse:
    return PlainTextResponse("t")


@app.get("/raw/{blob_id}")
def raw(blob_id: Annotated[int, Path(title="Blob", gt=0)],
        data: Annotated[Optional[bytes], Query()] = None,
        offset: Optional[int] = Query(None, ge=0, description="bytes to skip")):
    return {"id": blob_id, "offset": offset, "size": len(data or b"")}


@app.put("/maybe")
async def maybe(tag: Optional[Tag] = None) -> Optional[Tag]:
    return tag


def agent(user_agent: Annotated[Optional[str], Header()] = None, debug: bool = False):
    return user_agent


old = APIRouter(prefix="/old", dependencies=[Depends(agent)])


@old.get("/a")
def old_a(debug: bool = False, ua: Optional[str] = Depends(agent)):
    return {"debug": debug, "ua": ua}


app.include_router(old, deprecated=True, responses={500: {"model": Error}})
