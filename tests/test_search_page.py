"""The search page follows the settings `search_k` and `search_mode`, as the API and the CLI do,
and a request's own `k` and `mode` still win."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from qa.service.assistant import Assistant
from qa.web.app import create_app

TEXTS = {
    "harvest.txt": "The potato harvest doubled in the highlands.\n",
    "strike.txt": "The national strike was called for December 15.\n",
    "flood.txt": "The river flooded the lower town in March.\n",
    "glacier.txt": "The glacier retreated forty metres over the summer.\n",
}


@pytest.fixture
def page_for(make_settings, fake_embedder):
    """A client of the search page over a four-document archive, with the given settings."""

    def make(**overrides) -> TestClient:
        settings = make_settings(**overrides)
        for name, text in TEXTS.items():
            (settings.corpus / name).write_text(text, encoding="utf-8")
        assistant = Assistant(settings, fake_embedder)
        assistant.build()
        return TestClient(create_app(settings, assistant))

    return make


def results(page) -> int:
    assert page.status_code == 200, page.text
    return int(re.search(r'class="result-count">(\d+) passage', page.text).group(1))


def selected(page, name: str) -> str:
    """The option of the form's `name` select that the page shows as chosen."""
    select = re.search(rf'<select name="{name}">(.*?)</select>', page.text, re.S).group(1)
    (value,) = re.findall(r'<option value="([^"]+)" selected>', select)
    return value


def test_the_number_of_hits_is_search_k(page_for):
    client = page_for(search_k=2)
    page = client.get("/search", params={"q": "strike"})
    assert results(page) == 2
    assert selected(page, "k") == "2"  # offered, and chosen, though not a usual choice
    assert results(client.get("/search", params={"q": "strike", "k": 3})) == 3


def test_the_mode_is_search_mode(page_for):
    client = page_for(search_mode="lexical")
    page = client.get("/search", params={"q": "potato"})
    assert results(page) == 1  # only the passage holding the word
    assert selected(page, "mode") == "lexical"
    assert '<details class="filters" >' in page.text  # the default mode opens no filters
    hybrid = client.get("/search", params={"q": "potato", "mode": "hybrid"})
    assert results(hybrid) == len(TEXTS)  # meaning proposes every passage
    assert selected(hybrid, "mode") == "hybrid"
    assert '<details class="filters" open>' in hybrid.text  # a mode other than the default
