"""Header and Cookie parameters: names, aliases, defaults, types."""

from typing import Annotated, Optional

from fastapi import Cookie, FastAPI, Header
from pydantic import BaseModel

app = FastAPI()


class Note(BaseModel):
    text: str


@app.get("/headers")
def headers(x_token: str = Header(), user_agent: Optional[str] = Header(None),
            x_count: int = Header(0)):
    return {"token": x_token, "agent": user_agent, "count": x_count}


@app.get("/annotated")
async def annotated(request_id: Annotated[int, Header(alias="X-Request-Id")],
                    strict_name: Annotated[Optional[str], Header(convert_underscores=False)] = None):
    return {"id": request_id, "strict": strict_name}


@app.get("/cookies")
def cookies(session: str = Cookie(), theme: Optional[str] = Cookie(None),
            visits: Annotated[int, Cookie()] = 0):
    return {"session": session, "theme": theme, "visits": visits}


@app.post("/notes/{note_id}")
def notes(note_id: int, note: Note, x_token: str = Header(), q: str = "none"):
    return {"id": note_id, "text": note.text, "token": x_token, "q": q}
