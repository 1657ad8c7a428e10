"""`qa eval`: build a temporary archive from a SQuAD v1.1 file and score the assistant on it.

Each article becomes one document (its paragraphs are its text, its title the article's),
every question goes through the same `ask` path as `qa ask`, and a question counts as
answered at k when one of the first k passages, or one of the answer's first sentences,
contains a gold answer string (case-insensitive: the "top-k accuracy" of open-domain QA).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa.core.config import Settings
from qa.core.errors import EvalFileError
from qa.core.types import BuildReport
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
                right += (not answer.abstained) and _contains(first, turn.answers)
            history.append({"question": turn.question, "answer": answer.answer})
    return {
        "followup_conversations": len(conversations),
        "followup_turns": total,
        "followup_acc1": round(right / max(1, total), 4),
    }


def _contains(text: str, answers: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(answer.lower() in lowered for answer in answers)


def score_questions(assistant: Assistant, questions: list[Question]) -> dict:
    """Retrieval and answer metrics of `questions` asked of `assistant`'s index."""
    top = {1: 0, 5: 0, 10: 0}
    reciprocal_ranks = 0.0
    sentence_hits = {1: 0, 2: 0}
    answer_chars: list[int] = []
    abstained = 0
    for question in questions:
        answer = assistant.ask(question.question)
        ranks = [
            n for n, hit in enumerate(answer.hits[:10], 1) if _contains(hit.text, question.answers)
        ]
        first = ranks[0] if ranks else None
        for k in top:
            top[k] += bool(first and first <= k)
        reciprocal_ranks += 1 / first if first else 0.0
        abstained += answer.abstained
        if not answer.abstained:
            texts = [s.text for s in answer.sentences]
            answer_chars.append(len(" ".join(texts)))
            for k in sentence_hits:
                sentence_hits[k] += any(_contains(t, question.answers) for t in texts[:k])
    count = max(1, len(questions))
    return {
        "questions": len(questions),
        "passage_top1": round(top[1] / count, 4),
        "passage_top5": round(top[5] / count, 4),
        "passage_top10": round(top[10] / count, 4),
        "mrr10": round(reciprocal_ranks / count, 4),
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
