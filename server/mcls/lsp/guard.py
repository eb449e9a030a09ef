"""A request never fails because of mcls: handlers are wrapped so that an exception is
logged with the document it concerns and answered with an empty result, while
cancellation and deliberate protocol errors (``JsonRpcException``) pass through."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Callable

from pygls.exceptions import JsonRpcException

log = logging.getLogger("mcls.lsp")


def answers_empty_on_error(what: str, empty: Callable[[], Any] = lambda: None):
    def wrap(fn):
        @functools.wraps(fn)
        async def handler(ls: Any, params: Any) -> Any:
            try:
                return await fn(ls, params)
            except (asyncio.CancelledError, JsonRpcException):
                raise
            except Exception:
                doc = getattr(getattr(params, "text_document", None), "uri", None)
                log.exception("%s failed for %s", what, doc)
                return empty()

        return handler

    return wrap


def at_position(ls: Any, params: Any) -> tuple[Any, int] | None:
    """The snapshot of the request's document and the offset of its position (None: not a
    document mcls reads)."""
    snap = ls.snapshot(params.text_document.uri)
    if snap.language is None:
        return None
    return snap, snap.positions.offset(params.position)
