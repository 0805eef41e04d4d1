"""Shared fixtures live in ``tests/fixtures/`` and are registered here."""

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.worker", "tests.fixtures.proxy"]
