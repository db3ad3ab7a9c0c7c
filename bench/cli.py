"""The command-line options every bench runner shares: where its servers listen and which CPUs
its server and its clients are pinned to."""

import argparse
import os


def stack_options(p: argparse.ArgumentParser, *, port: int, redis_port: int) -> None:
    # On two cores or more the server under test gets CPU 0 and the load makers CPU 1, so the
    # clients never steal the server's time and the figures are the server's.
    two = (os.cpu_count() or 1) >= 2
    p.add_argument("--port", type=int, default=port, help="servers take the first free port from here")
    p.add_argument("--redis-port", type=int, default=redis_port, help="the embedded Valkey's first port to try")
    p.add_argument("--server-cpus", default="0" if two else None, help="taskset CPU list for the server under test")
    p.add_argument("--client-cpus", default="1" if two else None, help="taskset CPU list for clients and Valkey")
    p.add_argument("--no-pin", action="store_true", help="do not use taskset")


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    args = p.parse_args()
    if args.no_pin:
        args.server_cpus = args.client_cpus = None
    return args
