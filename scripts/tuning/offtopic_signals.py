"""Can any signal the model and the archive give tell an off-topic question from an answerable
one? For each signal below, over the bundled archive (corpus/) with the default model: the
most refusing rule that refuses no answerable question of tests/data (its threshold set at
the lowest value an answerable question reaches: fitted in-sample, so a ceiling, not a rule),
and the share of each off-topic and near-topic set it would refuse, alone and added to the
refusals in force.

    python scripts/tuning/offtopic_signals.py
    python scripts/tuning/offtopic_signals.py --below 0.02   # each threshold 0.02 lower

The signals (higher means "on topic"):

- `sentence lift`: the off-topic check's own (`qa.answer.topic`): the best candidate sentence
  of prose above everyday text, in the question's language or across (0.04 lower across,
  as the calibration's least lifts are).
- `passage lift`: the same with the retrieved passages' vectors: a whole passage carries more
  of its document's subject than one short sentence.
- `symmetric lift`: every sentence of prose of the archive and everyday text embedded as
  questions are ("query: "), the way e5 compares two texts of the same kind, not a question
  with its answer.
- `hub-corrected lift`: each sentence of prose's cosine with the question less the mean of
  its typical cosine with everyday questions (`EVERYDAY_QUESTIONS`, the everyday text of
  `qa.answer.background` asked as questions) and the question's typical cosine with everyday
  text: cross-domain similarity local scaling (CSLS, as bilingual lexicon induction corrects
  "hubs"). A short generic sentence ("After adding, changing or deleting documents, run
  `qa index`.") sits near every how-to question; the correction takes that off. Both means
  are taken in the pair's own languages, so no offset across languages.
- `explained words`: minus the number of the question's content words that the archive does
  not hold (`qa.answer.topic.archive_words`) and whose nearest word of the five best
  passages, by the model's last hidden states, is no nearer than the nearest word of
  everyday text: words the archive holds nothing like, in any language.

Builds corpus/ in a temporary folder first (about a minute); asks about 700 questions.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/tuning, for verdict_bars

from verdict_bars import REPOSITORY, SETS, questions

from qa.answer.background import BACKGROUND
from qa.answer.topic import archive_words, background_cosine, is_prose, lift
from qa.core.config import Settings
from qa.embedders.e5_file import PASSAGE_PREFIX, QUERY_PREFIX
from qa.service.assistant import Assistant
from qa.text.languages import detect_question_language
from qa.text.terms import fold_accents

#: What a cross-language lift gives up, as in the calibration (0.28 within, 0.24 across).
ACROSS = 0.04
#: Passages whose words a question's words are looked for in.
ALIGNED_PASSAGES = 5
#: The sets written last (tests/data/*.heldout2.txt), never looked at to choose a signal.
FRESH = "heldout2"
SIGNALS = (
    "sentence lift",
    "passage lift",
    "symmetric lift",
    "hub-corrected lift",
    "explained words",
)
#: One question from each everyday sentence of `qa.answer.background`, in its order.
EVERYDAY_QUESTIONS = {
    "en": (
        "How long should I preheat the oven before baking a cake?",
        "Why do cats like to sleep on windowsills?",
        "How often should tomato plants be watered in summer?",
        "What should I do when the bus is late?",
        "What colour should I paint the kitchen walls?",
        "How much salt goes into the water for pasta?",
        "Why does my dog bark at the postman?",
        "Will it be sunny tomorrow afternoon?",
        "How do I fold towels so they fit in the cupboard?",
        "How do you build a sandcastle that does not collapse?",
        "When is the best time to plant apple trees?",
        "Should I turn off the lights when I leave a room?",
        "How many eggs does a simple cake recipe need?",
        "Where do I report an umbrella lost on the train?",
        "How do I get a sofa through a narrow door?",
        "How do you knit a warm scarf?",
        "Who fixes the coffee machine at the office?",
        "What do I need to go camping by a lake?",
        "How should strawberries be washed?",
        "Why are football matches cancelled when it rains?",
    ),
    "es": (
        "¿Cuánto tiempo hay que precalentar el horno antes de hornear un bizcocho?",
        "¿Por qué a los gatos les gusta dormir en la ventana?",
        "¿Cada cuánto se riegan las tomateras en verano?",
        "¿Qué hago si el autobús llega tarde?",
        "¿De qué color pinto las paredes de la cocina?",
        "¿Cuánta sal se echa al agua de la pasta?",
        "¿Por qué ladra mi perro al cartero?",
        "¿Hará sol mañana por la tarde?",
        "¿Cómo doblo las toallas para que quepan en el armario?",
        "¿Cómo se hace un castillo de arena que no se derrumbe?",
        "¿Cuándo se plantan los manzanos?",
        "¿Hay que apagar la luz al salir de una habitación?",
        "¿Cuántos huevos lleva una receta sencilla de bizcocho?",
        "¿Dónde aviso si pierdo el paraguas en el tren?",
        "¿Cómo paso un sofá por una puerta estrecha?",
        "¿Cómo se teje una bufanda de abrigo?",
        "¿Quién arregla la cafetera de la oficina?",
        "¿Qué necesito para ir de acampada a un lago?",
        "¿Cómo se lavan las fresas?",
        "¿Por qué se suspenden los partidos de fútbol cuando llueve?",
    ),
}
_WORD = re.compile(r"[^\W_]+")


def word_vectors(encoder, prefix: str, text: str) -> list[tuple[str, np.ndarray]]:
    """Each word of `text` (folded) with the mean of its tokens' last hidden states, unit length."""
    ids, spans = encoder.tokens_and_spans([prefix + text])
    states = encoder.token_states(ids)[0][0]
    found = []
    for match in _WORD.finditer(prefix + text):
        start, end = match.span()
        if end <= len(prefix):
            continue
        # The first state is the start token's; spans leave the special tokens out.
        rows = [i + 1 for i, (a, b) in enumerate(spans[0]) if a < end and b > start]
        if rows:
            vector = states[rows].mean(axis=0)
            found.append((fold_accents(match.group()), vector / np.linalg.norm(vector)))
    return found


class Signals:
    """The signals of one archive's questions (see the module's docstring)."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.engine = assistant.engine()
        self.embedder = assistant.embedder
        self.passages = self.embedder.onnx_passage_encoder()
        self.queries = self.embedder.onnx_query_encoder()
        if self.passages is None or self.queries is None:
            raise SystemExit("The token states need the default model's ONNX encoders.")
        catalog = self.engine.index.catalog
        stored = catalog.passages(catalog.passage_ids())
        prose = [
            (s.text, p.language)
            for p in stored.values()
            for s in p.passage.sentences
            if is_prose(s.text)
        ]
        self.sentence_languages = np.array([language for _, language in prose])
        # The stored sentence vectors, as the answer step reads them (passage role).
        self.sentence_vectors = np.vstack(
            [
                p.sentence_vectors[i]
                for p in stored.values()
                for i, s in enumerate(p.passage.sentences)
                if is_prose(s.text)
            ]
        )
        self.everyday_questions = {
            code: np.vstack([self.embedder.encode_query(q) for q in asked])
            for code, asked in EVERYDAY_QUESTIONS.items()
        }
        self.sentences_as_queries = np.vstack([self.embedder.encode_query(t) for t, _ in prose])
        self.everyday_as_queries = {
            code: np.vstack([self.embedder.encode_query(t) for t in texts])
            for code, texts in BACKGROUND.items()
        }
        everyday = [w for texts in BACKGROUND.values() for t in texts for w in self._words(t)]
        self.everyday_words = np.vstack([vector for _, vector in everyday])
        self._passage_words: dict[int, list] = {}

    def _words(self, text: str) -> list[tuple[str, np.ndarray]]:
        return word_vectors(self.passages, PASSAGE_PREFIX, text)

    def of(self, question: str) -> tuple[str, dict[str, float]]:
        """The verdict in force and each signal of `question`."""
        answer = self.assistant.ask(question)
        language = detect_question_language(question)
        query = self.engine.retriever.query_vector(answer.resolved_query or question)
        signals = answer.signals
        found = {
            "sentence lift": max(
                signals.get("topic_lift", -1.0), signals.get("topic_lift_across", -1.0) + ACROSS
            ),
            "passage lift": self._passage_lift(answer.hits, query, language),
            "symmetric lift": self._symmetric_lift(question, language),
            "hub-corrected lift": self._hub_corrected(query, language),
            "explained words": -self._unexplained(question, language, answer.hits),
        }
        return answer.verdict, found

    def _passage_lift(self, hits, query: np.ndarray, language: str) -> float:
        ids = [hit.passage_id for hit in hits]
        vectors = self.engine.index.vectors.vectors(ids)
        best = -1.0
        for hit, vector in zip(hits, vectors, strict=True):
            code = hit.metadata.get("language")
            value = lift(float(vector @ query), background_cosine(self.embedder, query, code))
            best = max(best, value if code == language else value + ACROSS)
        return best

    def _symmetric_lift(self, question: str, language: str) -> float:
        vector = self.embedder.encode_query(question)
        cosines = self.sentences_as_queries @ vector
        best = -1.0
        for code in set(self.sentence_languages):
            chosen = self.sentence_languages == code
            everyday = self.everyday_as_queries.get(code)
            if everyday is None:
                everyday = np.vstack(list(self.everyday_as_queries.values()))
            value = lift(float(cosines[chosen].max()), float(np.mean(everyday @ vector)))
            best = max(best, value if code == language else value + ACROSS)
        return best

    def _hub_corrected(self, query: np.ndarray, language: str) -> float:
        asked = self.everyday_questions.get(language)
        if asked is None:
            asked = np.vstack(list(self.everyday_questions.values()))
        hubness = (asked @ self.sentence_vectors.T).mean(axis=0)  # one per sentence
        floors = {
            code: background_cosine(self.embedder, query, code)
            for code in set(self.sentence_languages)
        }
        floor = np.array([floors[code] for code in self.sentence_languages])
        return float(np.max(self.sentence_vectors @ query - (hubness + floor) / 2))

    def _unexplained(self, question: str, language: str, hits) -> int:
        index = self.engine.index
        held = archive_words(
            question, language, index.languages, index.frequencies, index.has_term_with_prefix
        )
        unknown = set(held.names + held.words) - held.known
        if not unknown:
            return 0
        near = []
        for hit in hits[:ALIGNED_PASSAGES]:
            if hit.passage_id not in self._passage_words:
                self._passage_words[hit.passage_id] = self._words(hit.text)
            near += self._passage_words[hit.passage_id]
        archive = np.vstack([vector for _, vector in near])
        count = 0
        for word, vector in word_vectors(self.queries, QUERY_PREFIX, question):
            if word in unknown:
                unknown.discard(word)
                if np.max(archive @ vector) <= np.max(self.everyday_words @ vector):
                    count += 1
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--below", type=float, default=0.0, help="lower each threshold by this much (a margin)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-offtopic-") as folder:
        settings = Settings(
            corpus=REPOSITORY / "corpus", index=Path(folder) / "index", progress=False
        )
        assistant = Assistant(settings)
        assistant.build(full=True)
        measure = Signals(assistant)
        asked = {
            (file, part, kind): [measure.of(q) for q, _ in questions(file, part)]
            for file, part, kind in SETS
        }
    # The thresholds come from every answerable set but the second held-out one, which checks
    # whether a threshold set so tight still lets answerable questions through.
    fitted = [
        found
        for (file, _, kind), rows in asked.items()
        if kind == "answerable" and FRESH not in file
        for _, found in rows
    ]
    edge = {name: min(found[name] for found in fitted) for name in SIGNALS}
    lowest = {name: value - options.below for name, value in edge.items()}
    print(
        "Threshold of each signal: the lowest value of an answerable question "
        f"({len(fitted)} questions, none refused below it; {FRESH} sets left out), "
        f"less {options.below}."
    )
    print("| signal | threshold | answerable within 0.01 / 0.02 above the lowest |")
    print("|---|---|---|")
    for name in SIGNALS:
        near = [sum(found[name] < edge[name] + gap for found in fitted) for gap in (0.01, 0.02)]
        print(f"| {name} | {lowest[name]:.3f} | {near[0]} / {near[1]} |")
    print("\nShare refused: in force / by the signal alone / both together.")
    print("| set | kind | questions | " + " | ".join(SIGNALS) + " |")
    print("|---|---|---|" + "---|" * len(SIGNALS))
    for (file, part, kind), rows in asked.items():
        if kind == "answerable" and FRESH not in file:
            continue
        now = [verdict == "not_in_archive" for verdict, _ in rows]
        cells = []
        for name in SIGNALS:
            alone = [found[name] < lowest[name] for _, found in rows]
            both = [a or b for a, b in zip(now, alone, strict=True)]
            cells.append(f"{np.mean(now):.2f} / {np.mean(alone):.2f} / {np.mean(both):.2f}")
        held = " [held out]" if "heldout" in file else ""
        print(f"| {file} ({part}){held} | {kind} | {len(rows)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
