"""Every test has a TestID: the original tool's number where it had the test, ours from 1000 otherwise."""

from __future__ import annotations

from offerflow_certification.image.catalog import NUMBERS, ORIGINAL_MAX, TESTS
from offerflow_contract.upcasters import _V1_TEST_NUMBERS

# The original self-test tool's TestIDs (its API sample), by our key.
ORIGINAL = {"linux.bash_history": 48, "linux.agent_version": 39, "linux.kernel_parameters": 40, "linux.swap": 41,
            "linux.root_partition": 42, "linux.openssl": 44, "linux.python": 45,
            "linux.client_alive_interval": 46, "linux.architecture": 49, "linux.security_threats": 50,
            "linux.auto_update": 51, "linux.kernel_version": 52}


def test_every_test_has_one_unique_number() -> None:
    assert set(NUMBERS) == set(TESTS)
    assert len(set(NUMBERS.values())) == len(NUMBERS)


def test_the_original_tests_keep_their_numbers_and_ours_never_collide() -> None:
    assert {k: NUMBERS[k] for k in ORIGINAL} == ORIGINAL
    assert all(n > ORIGINAL_MAX for k, n in NUMBERS.items() if k not in ORIGINAL)


def test_the_v1_upcaster_numbers_as_the_catalog_does() -> None:
    assert all(NUMBERS[k] == n for k, n in _V1_TEST_NUMBERS.items())
