"""The documentation is checked against the code: the settings page is the one `Settings`
generates, every `qa` command is documented, and every relative link leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.cli import main
from qa.core.config import Settings
from qa.core.settings_doc import COMMAND, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md")), ROOT / "index" / "README.md"]

#: [text](target) and ![alt](target); the target ends at a space (a title) or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_settings_page_is_generated_from_the_code():
    page = DOCS / "settings.md"
    assert page.is_file() and page.read_text(encoding="utf-8") == settings_markdown(), (
        f"docs/settings.md is not what `Settings` (qa/core/config.py) generates: run `{COMMAND}`"
    )


def test_every_setting_is_described():
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == [], f"settings without a description in qa/core/config.py: {undescribed}"


def test_every_command_is_documented():
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    missing = [name for name in main.commands if f"qa {name}" not in text]
    assert missing == [], f"commands not mentioned as `qa NAME` in README.md or docs/: {missing}"


def test_every_variable_named_is_a_setting():
    known = {f"QA_{name.upper()}" for name in Settings.model_fields}
    unknown = {}
    for page in PAGES:  # docs/settings.md is checked whole above
        if page.exists() and page.name != "settings.md":
            named = set(re.findall(r"\bQA_[A-Z][A-Z0-9_]*\b", page.read_text(encoding="utf-8")))
            if named - known:
                unknown[str(page.relative_to(ROOT))] = sorted(named - known)
    assert unknown == {}, f"QA_* variables that are no setting (see docs/settings.md): {unknown}"


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


def _anchors(page: Path) -> set[str]:
    """GitHub's ids for the headings of a Markdown page."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page: Path):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or ROOT not in [linked, *linked.parents]:
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert broken == [], f"links in {page.relative_to(ROOT)} that lead nowhere: {broken}"
