"""Request dependencies: a warehouse connection per request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from portal.db import connection


def db():
    with connection() as conn:
        yield conn


Conn = Annotated[Any, Depends(db)]
