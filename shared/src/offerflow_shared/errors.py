"""Which handler errors are worth retrying.

A retry only helps when the world may change in the meantime (a broker or database restarting, a network
blip). Bad data, a broken constraint or a plain bug fails the same way every time; retrying it only holds
up every other offer on the partition, so those are given up on at once. Adapters that know better mark an
error explicitly by raising :class:`Transient` or :class:`Deterministic` (``raise Transient(...) from exc``).
"""

from __future__ import annotations

import errno
import socket

import asyncpg
import httpx
from aiokafka import errors as kafka_errors
from pydantic import ValidationError

from offerflow_contract.envelope import ContractError


class Transient(Exception):
    """Raised by an adapter for a failure that may go away by itself: the input is retried with backoff."""


class Deterministic(Exception):
    """Raised by an adapter for a failure that will repeat on every retry: the input is given up on at once."""


# OSErrors that are about the network or a resource that frees up, not about the input.
_TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENETUNREACH", "ENETDOWN",
                 "ENETRESET", "EHOSTUNREACH", "EHOSTDOWN", "EAGAIN", "EBUSY", "ENOBUFS", "ENOSPC", "EADDRNOTAVAIL")
    if hasattr(errno, name)
)

# PostgreSQL error classes that describe the server's state, not the statement: connection exceptions,
# insufficient resources, operator intervention (shutdown, cannot connect now), transaction rollback
# (serialization failure, deadlock) and lock not available.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")
_TRANSIENT_SQLSTATES = frozenset({"55P03", "55006"})

_BUGS: tuple[type[BaseException], ...] = (
    ValueError,  # includes ContractError, UnicodeError and pydantic's ValidationError
    TypeError,
    LookupError,  # KeyError, IndexError
    AttributeError,
    AssertionError,
    ArithmeticError,
    NotImplementedError,
    NameError,
    RecursionError,
)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same input later may succeed; False when it would fail the same way."""
    if isinstance(exc, Transient):
        return True
    if isinstance(exc, Deterministic | ContractError | ValidationError):
        return False
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state[:2] in _TRANSIENT_SQLSTATE_CLASSES or state in _TRANSIENT_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError):
        # The client lost or misused its connection (closed pool, connection reset mid-query).
        return True
    if isinstance(exc, kafka_errors.KafkaError):
        return bool(getattr(exc, "retriable", False)) or isinstance(
            exc, kafka_errors.KafkaConnectionError | kafka_errors.KafkaTimeoutError | kafka_errors.NodeNotReadyError
        )
    if isinstance(exc, httpx.TransportError):
        # Connect/read timeouts, refused or reset connections, protocol hiccups of the peer.
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError) and exc.errno is not None:
        # File errors (ENOENT, EACCES, EISDIR...) repeat; network and resource ones pass. OSErrors without an
        # errno (smtplib's, aiohttp's) fall through to the unknown case and stay retried as before.
        return exc.errno in _TRANSIENT_ERRNOS
    if isinstance(exc, _BUGS):
        return False
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        return is_transient(cause)
    # Unknown errors keep today's behaviour (retried, then given up on): never worse than before.
    return True


def kind(exc: BaseException) -> str:
    return "transient" if is_transient(exc) else "deterministic"
