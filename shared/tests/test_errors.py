from __future__ import annotations

import errno
import random
import smtplib

import asyncpg
import httpx
import pytest
from aiokafka import errors as kafka_errors
from pydantic import BaseModel, ValidationError

from offerflow_contract.envelope import ContractError
from offerflow_shared.errors import Deterministic, Transient, is_transient
from offerflow_shared.faults import InjectedFault
from offerflow_shared.runtime import RetryPolicy


class _Model(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Model.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


@pytest.mark.parametrize("exc", [
    ContractError("bad payload"),
    _validation_error(),
    asyncpg.DataError("invalid input"),
    asyncpg.CharacterNotInRepertoireError("NUL"),
    asyncpg.UntranslatableCharacterError("\\u0000 cannot be converted to text"),
    asyncpg.UniqueViolationError("duplicate key"),
    asyncpg.IntegrityConstraintViolationError("constraint"),
    asyncpg.UndefinedColumnError("no such column"),
    ValueError("bug"), TypeError("bug"), KeyError("k"), AttributeError("a"), AssertionError("x"),
    IndexError("i"), ZeroDivisionError(), FileNotFoundError(errno.ENOENT, "gone"),
    Deterministic("adapter says so"), InjectedFault("armed"),
])
def test_deterministic_errors_are_not_retried(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_an_unknown_error_is_judged_by_its_cause() -> None:
    try:
        raise RuntimeError("wrapped") from KeyError("k")
    except RuntimeError as exc:
        assert not is_transient(exc)
    try:
        raise RuntimeError("wrapped") from ConnectionResetError()
    except RuntimeError as exc:
        assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"), ConnectionResetError(), BrokenPipeError(),
    TimeoutError(), OSError(errno.EHOSTUNREACH, "no route"), OSError(errno.ENETUNREACH, "unreachable"),
    asyncpg.PostgresConnectionError("lost"), asyncpg.ConnectionDoesNotExistError("closed"),
    asyncpg.TooManyConnectionsError("too many"), asyncpg.CannotConnectNowError("starting up"),
    asyncpg.AdminShutdownError("shutdown"), asyncpg.SerializationError("retry"), asyncpg.DeadlockDetectedError("d"),
    asyncpg.LockNotAvailableError("lock timeout"), asyncpg.InterfaceError("pool is closing"),
    kafka_errors.KafkaConnectionError(), kafka_errors.KafkaTimeoutError(), kafka_errors.NotLeaderForPartitionError(),
    kafka_errors.RequestTimedOutError(),
    httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
    Transient("adapter says so"), RuntimeError("unknown: kept retried as before"),
    smtplib.SMTPServerDisconnected("mail relay restarting"),
])
def test_transient_errors_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)


def test_an_adapter_marks_an_error_either_way_whatever_its_cause() -> None:
    try:
        raise Transient("the destination answered 503") from ValueError("parsed a 503 body")
    except Transient as exc:
        assert is_transient(exc)
    try:
        raise Deterministic("the destination refuses this offer") from ConnectionResetError()
    except Deterministic as exc:
        assert not is_transient(exc)


def test_kafka_errors_that_are_not_retriable_are_deterministic() -> None:
    assert not is_transient(kafka_errors.MessageSizeTooLargeError())


def test_jitter_stays_within_its_bounds_and_spreads() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt in range(policy.attempts - 1):
        step = policy.step(attempt)
        drawn = [policy.delay(attempt, rng.random) for _ in range(200)]
        assert all(step * 0.8 <= d <= step * 1.2 for d in drawn)
        assert max(drawn) - min(drawn) > step * 0.2  # really spread, not one fixed delay
    assert policy.delay(0, lambda: 0.0) == pytest.approx(0.4)
    assert policy.delay(20, lambda: 1.0) == pytest.approx(18.0)


def test_the_retry_budget_outlasts_a_broker_or_database_restart() -> None:
    least, most = RetryPolicy().budget()
    assert least >= 80 and most <= 130  # about two minutes, as before jitter
