"""Dependencies shared by every route: the server context, the caller, paging parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from pictograph.server.auth import Principal
from pictograph.server.context import ServerContext
from pictograph.server.errors import Unauthorized

MAX_PAGE_SIZE = 1000


def get_ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


def get_principal(request: Request) -> Principal:
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized("Missing API key: send it in the X-API-Key header")
    return principal


Ctx = Annotated[ServerContext, Depends(get_ctx)]
Caller = Annotated[Principal, Depends(get_principal)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0)]
