"""Password hashing at a lower CPU priority (issue #19).

A PBKDF2 check is ~250 ms of a core, on purpose. The gate (stats.accounts.gate) lets
LOGIN_CONCURRENCY of them run at once, but each still competed as an equal with the event loop
and the threads serving the games: on one core, a one-event POST's p99 nearly doubled during a
login flood. Here the hashing itself runs in threads of their own at nice LOGIN_HASH_NICE (Linux
sets a thread's niceness by its id): the scheduler gives them what the serving threads leave,
so a login is slower under load and a game's POST is not. The stored hashes are Django's own
`pbkdf2_sha256` ones; only where the work runs changes.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _nice() -> None:
    try:  # raising one's own niceness needs no privilege
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), settings.LOGIN_HASH_NICE)
    except (AttributeError, OSError):  # not Linux: the hashing runs at the usual priority
        pass


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            # As many as the gate admits; without a gate, as many as the web threads.
            workers = settings.LOGIN_CONCURRENCY if settings.LOGIN_CONCURRENCY > 0 else 16
            _executor = ThreadPoolExecutor(workers, thread_name_prefix="password-hash", initializer=_nice)
        return _executor


class LowPriorityPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 hasher, run in a low-priority thread. encode() is what both a check
    (verify) and the dummy check for an unknown username (set_password) go through."""

    def encode(self, password, salt, iterations=None):
        parent = super().encode
        return _pool().submit(parent, password, salt, iterations).result()
