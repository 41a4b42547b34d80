"""ASGI entry point of the live-events service: `uvicorn live.asgi:application --lifespan off`."""

from __future__ import annotations

import os

# Always the live settings (its URLs, no middleware), whatever the environment says for the site.
os.environ["DJANGO_SETTINGS_MODULE"] = "live.settings"

import django

django.setup(set_prefix=False)

from django.core.handlers.asgi import ASGIHandler  # noqa: E402


class LiveASGIHandler(ASGIHandler):
    """Django's ASGI handler without a thread per request.

    The stock handler runs each request in its own ThreadSensitiveContext, whose executor
    thread lives as long as the request: for an event stream that is hours. Here the few
    synchronous calls of a stream (signals, session and permission checks) use shared threads."""

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            raise ValueError(f"The live service serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)


application = LiveASGIHandler()
