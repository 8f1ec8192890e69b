"""The technician's console: a web page served by the running piece, to
watch and steer it from a phone.

access.py: where it listens and who may come in (the token); state.py: the
snapshot the render loop publishes, the last warnings, the opening hours;
web.py: the page, the JSON API and the WebSocket (Starlette); server.py: its
thread and event loop (uvicorn), started and stopped with the piece;
arrival.py: a deadline for each request to arrive, so silent or slow
clients do not hold the console's connections.
static/: the page itself, no build step, nothing from the internet.
docs/running.md, "Console", is the technician's guide.
"""
