"""A deadline for each request to arrive, on uvicorn's h11 protocol.

uvicorn closes a connection left idle after an answer (its keep-alive
timeout), but not one that has said nothing yet, nor one that sends its
request a byte at a time: either holds a file descriptor of the piece, and
one of the console's connections (past ``limit_concurrency`` every request
is answered 503), for as long as the client likes, token or not. With
:class:`H11WithArrivalDeadline` (server.py's ``http=``) a request must have
arrived whole, head and body, within ARRIVAL seconds of the connection's
opening or of its last answer, or the connection is closed.
"""
from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

ARRIVAL = 10.0  # seconds: a phone on a poor network sends a console request in far less

#: The client's h11 states once its request is all in (or it left HTTP for a WebSocket).
ARRIVED = (h11.DONE, h11.MIGHT_SWITCH_PROTOCOL, h11.SWITCHED_PROTOCOL)


class H11WithArrivalDeadline(H11Protocol):
    """uvicorn's H11Protocol, closing a connection whose request is late."""

    _deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in ARRIVED:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # kept alive: the next request has its own deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(ARRIVAL, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if (self.conn.their_state not in ARRIVED and self.transport.get_protocol() is self
                and not self.transport.is_closing()):
            self.transport.close()
