"""webgame_client: stream a game server's events to a webgame server.

    from webgame_client import Client

    with Client("https://stats.example.com", "arena", key) as client:
        client.send("ada", 10, stats={"kills": 1}, team="red")

See README.md for the guarantees (exactly once by event id, retries, HTTP fallback)."""

from .answers import RETRYABLE
from .client import Client
from .outbox import BufferFull, ClientClosed
from .stats import ClientStats

__all__ = ["RETRYABLE", "BufferFull", "Client", "ClientClosed", "ClientStats"]
__version__ = "0.1.0"
