"""The admin API through FastAPI's test client: rebuilds only with the right token, swapped
in without failing requests, refused while one runs, failing without harm."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from http_helpers import ADMIN_TOKEN, error_of

from qa.core.config import Settings
from qa.core.errors import BuildInProgressError
from qa.service import assistant as service
from qa.service.assistant import Assistant
from qa.web.app import create_app

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize("token", [" s3cret", "s3cret\n", "s3c\x00ret", "tab\tbed"])
def test_an_admin_token_that_can_never_authenticate_is_refused_at_start(token):
    with pytest.raises(ValueError, match="admin_token"):
        Settings(admin_token=token)


def test_rebuild_exists_only_with_an_admin_token(make_settings, fake_embedder):
    settings = make_settings()
    with TestClient(create_app(settings, Assistant(settings, fake_embedder))) as client:
        assert client.post("/api/index/rebuild").status_code in (404, 405)
        assert "/api/index/rebuild" not in client.get("/openapi.json").json()["paths"]


def test_rebuild_requires_the_right_token(client):
    response = client.post("/api/index/rebuild")
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error_of(
        client.post("/api/index/rebuild", headers={"Authorization": "Bearer nope"}),
        403,
        "forbidden",
    )
    wrong_scheme = {"Authorization": "Basic czNjcmV0LXRva2Vu"}
    error_of(client.post("/api/index/rebuild", headers=wrong_scheme), 401, "unauthorized")
    error_of(client.get("/api/index/status"), 401, "unauthorized")


def wait_for_rebuild(client, headers) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.get("/api/index/status", headers=headers).json()
        if not status["running"]:
            return status
        time.sleep(0.02)
    raise AssertionError("the rebuild did not finish in 30 s")


def test_rebuild_swaps_the_index_without_failing_requests(web_archive, fake_embedder, monkeypatch):
    """Requests keep coming before, during and after a rebuild: all succeed, and the ones
    after the swap see the new version. The rebuild is held at its new document until two
    rounds of requests have been answered, so requests surely run while it builds; the test
    waits on those events, never on a clock."""
    settings, assistant = web_archive
    headers = ADMIN
    progress = threading.Condition()
    rounds = {"done": 0, "on_new_version": 0, "while_building": 0}
    statuses: list[int] = []
    stop = threading.Event()
    encode = fake_embedder.encode_passages

    def encode_held(texts, batch_size=32):
        if any("volcano" in text for text in texts):  # the rebuild reached the new document
            with progress:
                target = rounds["done"] + 2
                if progress.wait_for(lambda: rounds["done"] >= target, timeout=60):
                    rounds["while_building"] = 2
        return encode(texts, batch_size)

    monkeypatch.setattr(fake_embedder, "encode_passages", encode_held)
    with TestClient(create_app(settings, assistant)) as client:
        before = client.get("/api/health").json()["index_version"]
        (settings.corpus / "late.txt").write_text(
            "The volcano erupted at dawn.\n", encoding="utf-8"
        )

        def keep_asking():
            while not stop.is_set():
                statuses.append(client.get("/api/search", params={"q": "strike"}).status_code)
                statuses.append(
                    client.post("/api/ask", json={"question": "When was the strike?"}).status_code
                )
                health = client.get("/api/health")
                statuses.append(health.status_code)
                with progress:
                    rounds["done"] += 1
                    if health.json().get("index_version") != before:
                        rounds["on_new_version"] += 1
                    progress.notify_all()

        worker = threading.Thread(target=keep_asking)
        worker.start()
        try:
            with progress:
                assert progress.wait_for(lambda: rounds["done"] >= 2, timeout=60)
            started = client.post("/api/index/rebuild", params={"full": True}, headers=headers)
            assert started.status_code == 202
            assert started.json()["running"] is True
            with progress:
                swapped = progress.wait_for(lambda: rounds["on_new_version"] >= 2, timeout=60)
            status = wait_for_rebuild(client, headers)
        finally:
            stop.set()
            worker.join()
        assert status["error"] is None and status["version"]
        assert swapped, "no request saw the new version"
        assert rounds["while_building"] == 2, "no request was answered during the rebuild"
        health = client.get("/api/health").json()
        assert health["index_version"] == status["version"] != before
        assert health["documents"] == 7
        assert len(statuses) >= 3 * 6 and set(statuses) == {200}


def test_a_rebuild_from_a_missing_corpus_fails_and_keeps_the_archive(web_archive):
    settings, assistant = web_archive
    headers = ADMIN
    with TestClient(create_app(settings, assistant)) as client:
        before = client.get("/api/health").json()
        settings.corpus.rename(settings.corpus.with_name("moved"))
        assert client.post("/api/index/rebuild", headers=headers).status_code == 202
        status = wait_for_rebuild(client, headers)
        assert "No corpus folder" in status["error"]
        assert client.get("/api/health").json() == before


def test_a_second_rebuild_while_one_runs_is_409(web_archive, monkeypatch):
    """While a rebuild runs, a second one gets a 409 and a build from the command line (the
    same assistant's build) is refused too; the status says it is running. When it ends,
    the status names its new version, and the build lock is let go: a rebuild and a build
    start again."""
    settings, assistant = web_archive
    first = assistant.health()["index_version"]
    started, release = threading.Event(), threading.Event()
    original = service.build_index

    def held_build_index(*args, **kwargs):
        if threading.current_thread().name == "qa-rebuild":  # hold the background rebuild
            started.set()
            release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "build_index", held_build_index)
    headers = ADMIN
    with TestClient(create_app(settings, assistant)) as client:
        accepted = client.post("/api/index/rebuild", params={"full": True}, headers=headers)
        assert accepted.status_code == 202
        assert accepted.json() == {"running": True, "full": True, "version": None, "error": None}
        assert started.wait(10)  # the rebuild is under way, holding the build lock
        try:
            error_of(client.post("/api/index/rebuild", headers=headers), 409, "build_in_progress")
            with pytest.raises(BuildInProgressError):
                assistant.build()
            assert client.get("/api/index/status", headers=headers).json()["running"] is True
        finally:
            release.set()
        done = wait_for_rebuild(client, headers)
        assert done["error"] is None and done["full"] is True
        assert done["version"] and done["version"] != first
        assert client.get("/api/health").json()["index_version"] == done["version"]
        assert client.post("/api/index/rebuild", headers=headers).status_code == 202
        assert wait_for_rebuild(client, headers)["error"] is None
    assistant.build()  # the lock was let go: no BuildInProgressError
