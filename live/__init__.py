"""The live-events service: Server-Sent Events from Redis pub/sub, served by async Django
views under uvicorn (a small ASGI process of its own, behind the same nginx at /events/).

It reads the site's session cookie and checks permission when a stream opens and again for
events (taskforge/live.py publishes them after commit)."""
