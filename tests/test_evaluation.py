"""`qa eval`'s figures: the retriever's own passage ranking beside the answer's passages."""

from __future__ import annotations

import json

from qa.evaluation.squad import build_archive, evaluate, load_squad, score_questions

#: Two stories, each told by a passage that answers and by a decoy that repeats the
#: question's words one to a sentence: the retriever ranks the decoys first, and the answer
#: step, reading their sentences, puts the answering passages first.
ARTICLES = [
    ("Harvest", "Potato farmers in the highlands reported a record harvest in May. Prices fell."),
    ("Farmers", "Farmers, farmers. Potato, potato. Highlands, highlands. Report, report."),
    ("Strike", "The national strike was called for December 15 by the assembly of unions."),
    ("Strike talk", "National, national. Strike, strike. Called, called."),
]
QUESTIONS = [
    ("What did potato farmers in the highlands report?", "a record harvest"),
    ("When was the national strike called?", "December 15"),
]


def write_squad(folder):
    """A SQuAD v1.1 file of ARTICLES, each question asked in the paragraph that answers it."""
    data = []
    for title, text in ARTICLES:
        qas = [
            {"id": str(n), "question": q, "answers": [{"text": a, "answer_start": text.find(a)}]}
            for n, (q, a) in enumerate(QUESTIONS)
            if a in text
        ]
        data.append({"title": title, "paragraphs": [{"context": text, "qas": qas}]})
    path = folder / "squad.json"
    path.write_text(json.dumps({"data": data}), encoding="utf-8")
    return path


def first_rank(hits, answers) -> int:
    """The rank of the first of the 10 first passages holding an answer (0: none does)."""
    held = [n for n, hit in enumerate(hits[:10], 1) if any(a in hit.text for a in answers)]
    return held[0] if held else 0


def test_eval_reports_retrievals_ranking_before_the_answer_step_reorders(
    make_settings, fake_embedder, tmp_path
):
    result = evaluate(make_settings(), fake_embedder, write_squad(tmp_path))
    assert result["questions"] == 2
    retrieval = {key: result[key] for key in result if key.startswith("retrieval_")}
    assert retrieval == {
        "retrieval_top1": 0.0,
        "retrieval_top5": 1.0,
        "retrieval_top10": 1.0,
        "retrieval_mrr10": 0.5,
    }
    answer = {key: result[key] for key in ("passage_top1", "passage_top5", "passage_top10")}
    assert answer == {"passage_top1": 1.0, "passage_top5": 1.0, "passage_top10": 1.0}
    assert result["mrr10"] == 1.0


def test_eval_figures_are_the_retrievers_and_the_answers_rankings(
    make_settings, fake_embedder, tmp_path
):
    articles, questions = load_squad(write_squad(tmp_path))
    assistant, _ = build_archive(make_settings(), fake_embedder, articles, tmp_path / "archive")
    result = score_questions(assistant, questions)
    searched = [first_rank(assistant.search(q.question, k=10), q.answers) for q in questions]
    answered = [first_rank(assistant.ask(q.question).hits, q.answers) for q in questions]
    assert searched != answered  # the answer step re-ordered passages
    for prefix, mrr, ranks in (
        ("retrieval_top", "retrieval_mrr10", searched),
        ("passage_top", "mrr10", answered),
    ):
        for k in (1, 5, 10):
            assert result[f"{prefix}{k}"] == round(sum(0 < r <= k for r in ranks) / len(ranks), 4)
        assert result[mrr] == round(sum(1 / r for r in ranks if r) / len(ranks), 4)
