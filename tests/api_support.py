"""Airflow's own API app (the one ``airflow api-server`` serves) for tests that act as a user's
browser would: ``api`` (a fixture: a ``TestClient`` with the simple auth manager's user
``reviewer``, an admin) and ``bearer()`` (that user's token header)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def api() -> Iterator[Any]:
    """Airflow's own API app (the one ``airflow api-server`` serves), as the reviewer's
    browser talks to it."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "reviewer:admin")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        purge_cached_app()
        with TestClient(create_app(), base_url="http://airflow.test") as client:
            yield client
        purge_cached_app()


def bearer() -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    user = SimpleAuthManagerUser(username="reviewer", role="admin")
    return {"Authorization": f"Bearer {get_auth_manager().generate_jwt(user)}"}
