"""Real network faults between one store and the PostgreSQL server, for the fault tests.

:class:`TcpProxy` forwards a local port to the server. It can cut every connection (what clients
see when the server restarts), refuse new ones for a while (the server is down), and drop the
server's reply to a commit after the server has committed (a reply lost on the network), all
without disturbing the shared server or anyone else's connections. :func:`terminate_backends`
ends the server side of a database's tunewise connections, the way an administrator would.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading

from tests.conftest import _admin_connect

# The PostgreSQL wire message the server sends when a COMMIT has succeeded: CommandComplete
# ("C", int32 length 11, "COMMIT\0").
_COMMIT_COMPLETE = b"C\x00\x00\x00\x0bCOMMIT\x00"
# A write statement run on its own (autocommit), which the server commits before it replies:
# CommandComplete "UPDATE <n>" directly followed by ReadyForQuery "idle" (not in a transaction).
_AUTOCOMMITTED_UPDATE = re.compile(rb"C\x00\x00\x00.UPDATE \d+\x00Z\x00\x00\x00\x05I", re.DOTALL)


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``, with faults on demand."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._lose_commit_replies = 0
        self.lost_commit_replies = 0
        self._listener: socket.socket | None = None
        self.port = 0
        self.listen()

    def url(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def listen(self) -> None:
        """Accept connections (again) on the proxy's port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        """Stop listening and cut every connection: like a server that went down."""
        if self._listener is not None:
            _close(self._listener)  # shutdown wakes the thread blocked in accept()
            self._listener = None
        self.cut()

    def cut(self) -> None:
        """Close every open connection, as a server restart or a network failure does."""
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def lose_commit_replies(self, n: int = 1) -> None:
        """Let the next ``n`` commits succeed on the server — a COMMIT, or an UPDATE run in
        autocommit — then cut the connection before the reply arrives."""
        with self._lock:
            self._lose_commit_replies = n

    def close(self) -> None:
        self.refuse()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # the listener was closed
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                committed = _COMMIT_COMPLETE in data or _AUTOCOMMITTED_UPDATE.search(data)
                if replies and committed and self._take_commit_fault():
                    break  # the server committed; the client never hears it
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)

    def _take_commit_fault(self) -> bool:
        with self._lock:
            if self._lose_commit_replies == 0:
                return False
            self._lose_commit_replies -= 1
            self.lost_commit_replies += 1
            return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def terminate_backends(database: str) -> int:
    """End the server side of every tunewise connection to ``database``; returns how many."""
    with _admin_connect() as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'tunewise' AND datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)
