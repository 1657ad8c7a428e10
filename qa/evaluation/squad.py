"""`qa eval`: build a temporary archive from a SQuAD v1.1 file and score the assistant on it.

Each article becomes one document (its paragraphs are its text, its title the article's),
every question goes through the same `ask` path as `qa ask`. A passage or sentence holds the
answer when it contains a gold answer string (case-insensitive: the "top-k accuracy" of
open-domain QA). Every figure is a share of all the questions:

- `retrieval_top1/5/10`, `retrieval_mrr10`: the retriever's own ranking of the 10 passages it
  hands the answer step (before that step re-ranks them by their sentences): a passage
  holding the answer among the first k, and the mean reciprocal rank of the first such
  passage (0 beyond the 10th). Every question is ranked so, a question about a span of dates
  too (which the answer step answers from the timeline instead).
- `passage_top1/5/10`, `mrr10`: the same over the answer's passages (`Answer.hits`): for an
  answer, the answer step's re-ranked order; for a refusal, the passages it lists (the
  retriever's order, the first 3 shown as the closest); a span answer lists none.
- `sentence_acc1/2`: an answer (not a refusal) whose first 1 or 2 sentences hold the answer.
- `answer_chars_mean`: an answer's sentences' length in characters, over the answered ones.
- With `--unanswerable`: `abstain_answerable` (questions refused) and `abstain_unanswerable`
  (that file's questions refused); with `--followups`, `followup_acc1` (`score_followups`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa.answer.answerer import RETRIEVED
from qa.answer.question import read_question
from qa.core.config import Settings
from qa.core.errors import EvalFileError
from qa.core.types import BuildReport, Hit
from qa.embedders import Embedder
from qa.evaluation.dates import read_json
from qa.index.chunking import SPECIAL_TOKENS, embedding_text, truncate_title
from qa.service.assistant import Assistant


@dataclass(frozen=True)
class Question:
    question: str
    answers: tuple[str, ...]
    id: str = ""


def load_squad(path: Path) -> tuple[list[dict], list[Question]]:
    """Articles (as JSON Lines records) and questions of a SQuAD v1.1 file."""
    data = read_json(path, "evaluation file")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise EvalFileError(f"{path} is not a SQuAD v1.1 file (no 'data' list).")
    articles: list[dict] = []
    questions: list[Question] = []
    try:
        for number, article in enumerate(data["data"]):
            paragraphs = article["paragraphs"]
            text = "\n\n".join(paragraph["context"].strip() for paragraph in paragraphs)
            record = {"text": text, "title": str(article.get("title") or f"Article {number + 1}")}
            articles.append(record)
            for paragraph in paragraphs:
                for qa in paragraph.get("qas", []):
                    answers = tuple(a["text"] for a in qa.get("answers", []) if a.get("text"))
                    if answers:
                        questions.append(Question(qa["question"], answers, str(qa.get("id", ""))))
    except (KeyError, TypeError) as error:
        raise EvalFileError(f"{path} is not a SQuAD v1.1 file: missing {error}.") from None
    return articles, questions


def load_unanswerable(path: Path) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalFileError(f"No file of unanswerable questions at {path}.") from None
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load_followups(path: Path, archive: str) -> list[list[Question]]:
    """The conversations of a follow-ups file asked of the archive built from `archive`."""
    data = read_json(path, "follow-ups file")
    conversations: list[list[Question]] = []
    try:
        for conversation in data["conversations"]:
            if conversation["archive"] != archive:
                continue
            turns = [
                Question(turn["question"], tuple(turn["answers"])) for turn in conversation["turns"]
            ]
            conversations.append(turns)
    except (KeyError, TypeError) as error:
        raise EvalFileError(f"{path} is not a follow-ups file: missing {error}.") from None
    if not conversations:
        raise EvalFileError(f"{path} has no conversation about the archive of {archive}.")
    return conversations


def score_followups(assistant: Assistant, conversations: list[list[Question]]) -> dict:
    """Share of later turns whose first sentence answers them, asked with the conversation
    so far (the assistant's own earlier answers included)."""
    right = total = 0
    for turns in conversations:
        history: list[dict] = []
        for number, turn in enumerate(turns):
            answer = assistant.ask(turn.question, history=history or None)
            if number > 0:
                total += 1
                first = answer.sentences[0].text if answer.sentences else ""
                right += (not answer.abstained) and contains(first, turn.answers)
            history.append({"question": turn.question, "answer": answer.answer})
    return {
        "followup_conversations": len(conversations),
        "followup_turns": total,
        "followup_acc1": round(right / max(1, total), 4),
    }


def contains(text: str, answers: tuple[str, ...]) -> bool:
    """Whether `text` holds one of the gold answers (case-insensitive), as `qa eval` counts."""
    lowered = text.lower()
    return any(answer.lower() in lowered for answer in answers)


class _Ranking:
    """Where the first passage holding a gold answer ranks, over questions: top-k and MRR@10."""

    def __init__(self) -> None:
        self.top = {1: 0, 5: 0, 10: 0}
        self.reciprocal_ranks = 0.0

    def add(self, hits: list[Hit], answers: tuple[str, ...]) -> None:
        first = next((n for n, hit in enumerate(hits[:10], 1) if contains(hit.text, answers)), 0)
        for k in self.top:
            self.top[k] += bool(first and first <= k)
        self.reciprocal_ranks += 1 / first if first else 0.0

    def figures(self, top: str, mrr: str, count: int) -> dict:
        shares = {f"{top}{k}": round(hits / count, 4) for k, hits in self.top.items()}
        return {**shares, mrr: round(self.reciprocal_ranks / count, 4)}


def retrieved_hits(assistant: Assistant, question: str) -> list[Hit]:
    """The passages the retriever ranks for `question`, in its order: what the answer step
    receives (the same search, depth and mode) before it re-ranks them."""
    engine = assistant.engine()
    settings = assistant.settings
    asked = read_question(question, None, settings, engine.index.languages)
    return engine.retriever.ranked(asked.search, RETRIEVED, settings.search_mode)


def score_questions(assistant: Assistant, questions: list[Question]) -> dict:
    """Retrieval and answer metrics of `questions` asked of `assistant`'s index (the figures
    are described in the module's docstring)."""
    retrieval = _Ranking()
    passages = _Ranking()
    sentence_hits = {1: 0, 2: 0}
    answer_chars: list[int] = []
    abstained = 0
    for question in questions:
        answer = assistant.ask(question.question)
        retrieval.add(retrieved_hits(assistant, question.question), question.answers)
        passages.add(answer.hits, question.answers)
        abstained += answer.abstained
        if not answer.abstained:
            texts = [s.text for s in answer.sentences]
            answer_chars.append(len(" ".join(texts)))
            for k in sentence_hits:
                sentence_hits[k] += any(contains(t, question.answers) for t in texts[:k])
    count = max(1, len(questions))
    return {
        "questions": len(questions),
        **retrieval.figures("retrieval_top", "retrieval_mrr10", count),
        **passages.figures("passage_top", "mrr10", count),
        "sentence_acc1": round(sentence_hits[1] / count, 4),
        "sentence_acc2": round(sentence_hits[2] / count, 4),
        "answer_chars_mean": round(sum(answer_chars) / max(1, len(answer_chars)), 1),
        "abstain_answerable": round(abstained / count, 4),
    }


def passage_tokens_max(assistant: Assistant) -> int:
    """The longest text the index embedded, in the model's wordpieces with special tokens."""
    embedder = assistant.embedder
    engine = assistant.engine()
    title_in = engine.index.manifest.chunking.get("title_in_passage", False)
    rows = engine.index.catalog.titled_passages()
    titles = {title: truncate_title(embedder, title) for _, title, _ in rows} if title_in else {}
    texts = [embedding_text(titles.get(title, ""), text, title_in) for _, title, text in rows]
    longest = 0
    for start in range(0, len(texts), 1000):
        spans = embedder.token_spans(texts[start : start + 1000])
        longest = max([longest] + [len(s) for s in spans])
    return longest + SPECIAL_TOKENS


def build_archive(
    settings: Settings, embedder: Embedder, articles: list[dict], folder: Path
) -> tuple[Assistant, BuildReport]:
    """An assistant over a fresh archive in `folder` holding `articles` (JSON Lines records)."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    with open(corpus / "articles.jsonl", "w", encoding="utf-8") as handle:
        for record in articles:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    local = settings.model_copy(update={"corpus": corpus, "index": folder / "index"})
    assistant = Assistant(local, embedder)
    return assistant, assistant.build(full=True)


def questions_over(questions: list[Question], archive_questions: list[Question]) -> list[Question]:
    """`questions` asked of another file's archive: each takes the gold answers of the archive
    file's question with the same id (XQuAD's translations share ids), when there is one."""
    gold = {q.id: q.answers for q in archive_questions if q.id}
    return [Question(q.question, gold.get(q.id, q.answers), q.id) for q in questions]


def evaluate(
    settings: Settings,
    embedder: Embedder,
    squad_file: Path,
    unanswerable_file: Path | None = None,
    followups_file: Path | None = None,
    archive_file: Path | None = None,
) -> dict:
    """Build a temporary archive of the file's articles (or of `archive_file`'s) and score
    every question of the file on it."""
    articles, questions = load_squad(squad_file)
    if archive_file is not None:
        articles, archive_questions = load_squad(archive_file)
        questions = questions_over(questions, archive_questions)
    unanswerable = load_unanswerable(unanswerable_file) if unanswerable_file else None
    archive_name = Path(archive_file or squad_file).name
    followups = load_followups(followups_file, archive_name) if followups_file else None
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as folder:
        assistant, build = build_archive(settings, embedder, articles, Path(folder))
        result = score_questions(assistant, questions)
        result["passage_tokens_max"] = passage_tokens_max(assistant)
        result["documents"] = build.documents
        result["passages"] = build.passages
        if unanswerable is not None:
            refused = sum(assistant.ask(q).abstained for q in unanswerable)
            result["unanswerable_questions"] = len(unanswerable)
            result["abstain_unanswerable"] = round(refused / max(1, len(unanswerable)), 4)
        else:
            result.pop("abstain_answerable")
        if followups is not None:
            result.update(score_followups(assistant, followups))
    return result
