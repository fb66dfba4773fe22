"""`python -m project.serve`: daphne, with its keepalive pass spread over time.

Takes daphne's command line as is (the Procfile, `make demo`). The one change: daphne checks
every connection's timeouts, and sends each keepalive ping that is due, in one pass every two
seconds. With thousands of phones that pass is one long pause of the event loop: 2,000 sockets
opened in one storm fall due together, and a pass then sent 600 pings at once while no offer
was delivered. Those passes were the whole tail of the realtime bench's pool offers
(docs/performance.md, Realtime). Here the same checks run in slices, one every 50 ms, so each
connection is still checked every two seconds and no pass does more than a fortieth of the work.
And a WebSocket frame over daphne's size limit closes the socket with 1009 instead of dropping it.
"""

from __future__ import annotations

import math
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.internet import reactor as _reactor  # daphne.server has installed the asyncio reactor

# Typed loosely: twisted's interface stubs declare callLater without `self`.
reactor: Any = _reactor


class SlicedTimeoutServer(Server):
    CYCLE_SECONDS = 2.0  # daphne's own period: every connection is checked this often
    SLICES = 40

    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        # A frame or message over daphne's limit (--websocket_max_frame_size, 1 MiB) is refused
        # by autobahn before it reaches the app. By default autobahn then drops the TCP
        # connection, which a phone cannot tell from a network fault; this closes it with 1009
        # (message too big), which it can. The app's own limit (REALTIME_MAX_FRAME_BYTES, 4 KB)
        # answers smaller frames with an `error` frame and keeps the socket open.
        factory.setProtocolOptions(failByDrop=False)
        self._ws_factory = factory

    def timeout_checker(self) -> None:
        due: list = getattr(self, "_timeouts_due", [])
        if not due:
            # A new cycle: everything connected now, in slices of equal size.
            due = list(self.connections)
            self._timeouts_slice = max(1, math.ceil(len(due) / self.SLICES))
        batch, self._timeouts_due = due[: self._timeouts_slice], due[self._timeouts_slice :]
        for protocol in batch:
            if protocol in self.connections:  # not closed since the cycle began
                protocol.check_timeouts()
        reactor.callLater(self.CYCLE_SECONDS / self.SLICES, self.timeout_checker)


class SandanCommandLine(CommandLineInterface):
    server_class = SlicedTimeoutServer


if __name__ == "__main__":
    SandanCommandLine.entrypoint()
