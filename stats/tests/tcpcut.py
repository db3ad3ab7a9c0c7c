"""A TCP forwarder on 127.0.0.1 whose open connections can be made dead the way a failover
behind one address, a balancer's idle timeout or a network partition leaves them: nothing is
said until the client sends on one, and then it is reset. (A server that restarts closes its
connections with a FIN, which redis-py's pool notices before handing a connection out; these
it cannot notice.) New connections after a cut go through as before."""

import socket
import struct
import threading

RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def _quiet(action) -> None:
    try:
        action()
    except OSError:
        pass


def _end(sock: socket.socket, *, reset: bool = False) -> None:
    if reset:
        _quiet(lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET))
    else:
        _quiet(lambda: sock.shutdown(socket.SHUT_RDWR))  # wakes a thread blocked reading it
    _quiet(sock.close)


class CutProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.generation = 0  # connections made before the last cut() are dead
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut(self) -> None:
        with self.lock:
            self.generation += 1

    def close(self) -> None:
        _end(self.listener)  # shutdown wakes accept() on Linux
        with self.lock:
            for sock in self.sockets:
                _end(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            with self.lock:
                born = self.generation
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump_up, args=(client, upstream, born), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(upstream, client), daemon=True).start()

    def _pump_up(self, client: socket.socket, upstream: socket.socket, born: int) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if data and self.generation != born:  # cut: reset on the first bytes sent
                _end(client, reset=True)
                _end(upstream)
                return
            if not data:
                _end(upstream)
                _end(client)
                return
            try:
                upstream.sendall(data)
            except OSError:
                _end(client)
                return

    def _pump_down(self, upstream: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = upstream.recv(65536)
            except OSError:
                data = b""
            if not data:  # the server closed it: so does the client's side
                _end(client)
                return
            try:
                client.sendall(data)
            except OSError:
                return
