"""Form and multipart bodies: Form(), File() as bytes, UploadFile, lists
of files, a form model."""

from typing import Annotated, Optional

from fastapi import FastAPI, File, Form, UploadFile
from pydantic import BaseModel

app = FastAPI()


@app.post("/login")
def login(username: str = Form(), password: str = Form(min_length=3)):
    return {"username": username, "length": len(password)}


@app.post("/upload")
async def upload(file: UploadFile, title: Annotated[str, Form()],
                 tags: list[str] = Form([]), count: int = Form(1)):
    data = await file.read()
    await file.seek(0)
    head = await file.read(2)
    await file.close()
    return {"filename": file.filename, "content_type": file.content_type, "size": file.size,
            "length": len(data), "head": head.decode("latin-1"), "extra": file.headers.get("x-extra"),
            "title": title, "tags": tags, "count": count}


@app.post("/bytes")
def as_bytes(data: bytes = File(), note: str = Form("none")):
    return {"length": len(data), "text": data.decode("latin-1"), "note": note}


@app.post("/files")
async def many_files(files: list[UploadFile]):
    return {"names": [f.filename for f in files], "sizes": [f.size for f in files]}


@app.post("/optional-file")
def optional_file(file: Optional[UploadFile] = None, note: str = Form("")):
    return {"has": file is not None, "data": file.file.read().decode() if file else None,
            "note": note}


class Login(BaseModel):
    username: str
    remember: bool = False


@app.post("/model")
def form_model(data: Annotated[Login, Form()]):
    return data.model_dump()


@app.post("/aliased")
def aliased(user_name: str = Form(alias="user-name", max_length=5),
            ids: Annotated[list[int], Form(alias="id")] = []):
    return {"user_name": user_name, "ids": ids}
