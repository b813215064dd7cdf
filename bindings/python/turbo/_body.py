"""request.stream(): the request body as it arrives (the C side: src/body.c)."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

from . import _turbo

# libturbo's codes a body can end with (turbo.h): its reader's limit, broken
# chunked framing, the request finished or cancelled first.
_ERANGE, _EINVAL, _ESTATE = -10, -1, -6


class ClientDisconnect(Exception):
    """The client went away before its request body ended."""


async def stream(reader) -> AsyncIterator[bytes]:
    """The pieces of the body as they are read, then b"" once (as
    Starlette's Request.stream() ends)."""
    from . import HTTPException

    loop = None
    while True:
        piece = reader.read()
        if piece is None:
            if loop is None:
                loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            reader.set_waiter(waiter)
            await waiter
            continue
        if isinstance(piece, int):
            if piece == _ERANGE:
                raise HTTPException(413, "Request body too large")
            if piece == _EINVAL:
                raise HTTPException(400, "Malformed chunked request body")
            raise ClientDisconnect()
        if not piece:
            break
        yield piece
    yield b""


_turbo._set_body_hooks(stream)
