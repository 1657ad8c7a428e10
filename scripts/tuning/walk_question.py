"""The walk of a question through the code: which modules `Assistant.ask` passes through, in
order, and how often it climbs back to an earlier stage of the pipeline.

    python scripts/tuning/walk_question.py

Builds the bundled archive with the fake embedder in a temporary folder, then traces one
question and one follow-up with `sys.setprofile`. Every call into a module of a pipeline
stage from another module starts a "stay" (consecutive calls within one module are one
stay); a call from a module of one stage into a module of an earlier stage (the answer step
asking retrieval for something, retrieval asking the follow-up step) is a climb back up,
counted once per calling and called function. Calls into
the shared layers (the stores, text handling, BM25's pure functions in qa.search.lexical,
embedders, types, settings) belong to the stay that makes them: every stage uses them.
The conductor (`Answerer.ask`, which hands the question to each stage in turn) is listed
apart: its calls into the query and retrieval stages are the flow going down, in order.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, for common.py

from common import REPOSITORY, fake_settings, find_fake_embedder

#: Where a question should flow: what is asked -> passages found -> fused -> the answer.
STAGES = {
    "qa.service.assistant": (0, "entry"),
    "qa.answer.question": (1, "query"),
    "qa.search.query": (1, "query"),
    "qa.answer.followup": (1, "query"),
    "qa.search.retriever": (2, "retrieval"),
    "qa.search.fusion": (3, "fusion"),
    "qa.answer.answerer": (4, "answer"),
    "qa.answer.features": (4, "answer"),
    "qa.answer.span": (4, "answer"),
    "qa.timeline.build": (4, "answer"),
    "qa.index.events": (4, "answer"),
}
ENTRY = "qa.service.assistant"
#: Functions that call the stages in pipeline order ("module.function").
CONDUCTORS = {"qa.answer.answerer.ask"}
QUESTION = "When was the national strike scheduled?"
FOLLOWUP = "Who called for it?"


def module_of(filename: str, root: Path) -> str | None:
    path = Path(filename)
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        return None
    return ".".join(relative.with_suffix("").parts)


def walk(ask, root: Path) -> tuple[list[str], list[str]]:
    """The modules of the stays of `ask()`, in order, and its climbs back up: the distinct
    calls from a module of one stage into a module of an earlier stage."""
    stays: list[str] = []
    climbs: list[str] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        module = module_of(frame.f_code.co_filename, root)
        if module not in STAGES:
            return
        # The entry is where the walk starts; returning there (a context manager's exit) is
        # the walk's end, not a stay.
        if (not stays or stays[-1] != module) and (module != ENTRY or not stays):
            stays.append(module)
        caller = frame.f_back
        caller_module = module_of(caller.f_code.co_filename, root) if caller else None
        if caller_module in STAGES and STAGES[module][0] < STAGES[caller_module][0]:
            if module != ENTRY:
                conductor = f"{caller_module}.{caller.f_code.co_name}" in CONDUCTORS
                climb = ("conductor " if conductor else "") + (
                    f"{caller_module}.{caller.f_code.co_name} ({STAGES[caller_module][1]}) -> "
                    f"{module}.{frame.f_code.co_name} ({STAGES[module][1]})"
                )
                if climb not in climbs:
                    climbs.append(climb)

    sys.setprofile(profile)
    try:
        ask()
    finally:
        sys.setprofile(None)
    return stays, climbs


def report(name: str, stays: list[str], climbs: list[str]) -> None:
    modules = sorted(set(stays))
    inside = [c for c in climbs if not c.startswith("conductor ")]
    print(
        f"{name}: {len(stays)} stays in {len(modules)} modules, {len(climbs)} climbs back up "
        f"({len(inside)} from inside a stage, {len(climbs) - len(inside)} the conductor's)"
    )
    print("  " + " -> ".join(m.removeprefix("qa.") for m in stays))
    for climb in climbs:
        print(f"  climb: {climb}")


def main() -> None:
    find_fake_embedder()
    from fake_embedder import FakeEmbedder

    from qa.service.assistant import Assistant

    with tempfile.TemporaryDirectory(prefix="qa-walk-") as folder:
        settings = fake_settings(REPOSITORY / "corpus", Path(folder) / "index")
        assistant = Assistant(settings, FakeEmbedder())
        assistant.build(full=True)
        assistant.ask("warm up: what is the archive about?")  # opens the index version
        first = assistant.ask(QUESTION)
        history = [{"question": QUESTION, "answer": first.answer}]
        report("question", *walk(lambda: assistant.ask(QUESTION), REPOSITORY))
        report("follow-up", *walk(lambda: assistant.ask(FOLLOWUP, history=history), REPOSITORY))


if __name__ == "__main__":
    main()
