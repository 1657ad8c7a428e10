"""Follow-up questions: what "it" or "they" means, taken from the conversation so far.

A question that leans on earlier turns (a pronoun, a leading "and", or too few content
words of its own) borrows the content words of the latest earlier questions. The borrowed
words search beside the question's own, but weigh less when sentences are scored, so an
earlier topic never drowns a new one; a question that stands alone borrows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.text.terms import stop_words, words

#: Words that point back to something said before (accent-folded, en and es).
REFERRING_WORDS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers herself "
    "this these those former latter "
    "ella ellos ellas su sus suyo suya eso esto esa ese esos esas alli ahi dicho dicha "
    "dichos dichas aquel aquella".split()
)
#: Openings that continue the conversation: "And who ...?", "Y cuando ...?".
CONTINUING_WORDS = frozenset("and also y tambien".split())
#: A question with fewer content words than this cannot stand alone.
SELF_CONTAINED_TERMS = 3


@dataclass(frozen=True)
class ResolvedQuestion:
    """The question as asked, and the words it borrows from earlier turns (maybe none)."""

    question: str
    borrowed: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        """What retrieval searches: the question followed by the borrowed words."""
        return " ".join((self.question, *self.borrowed)) if self.borrowed else self.question


def leans_on_history(question: str, language: str) -> bool:
    folded = words(question)
    if not folded:
        return False
    stops = stop_words(language)
    content = [w for w in folded if w not in stops and w not in REFERRING_WORDS]
    return (
        folded[0] in CONTINUING_WORDS
        or any(w in REFERRING_WORDS for w in folded)
        or len(content) < SELF_CONTAINED_TERMS
    )


def content_words(text: str, language: str) -> list[str]:
    stops = stop_words(language)
    return [w for w in words(text) if w not in stops and w not in REFERRING_WORDS]


def resolve(
    question: str,
    history: list[dict] | None,
    language: str,
    turns: int,
    max_borrowed_chars: int | None = None,
) -> ResolvedQuestion:
    """`question` with the content words of the earlier questions it leans on.

    Walks back from the latest turn while each earlier question leans on the one before
    it too, so a third turn can still reach the topic the first one set. The borrowed words
    take at most `max_borrowed_chars` characters (the latest turns' words first).
    """
    if not history or turns <= 0 or not leans_on_history(question, language):
        return ResolvedQuestion(question)
    own = set(words(question))
    borrowed: list[str] = []
    used = 0  # characters the borrowed words take in the query
    for turn in reversed(history[-turns:]):
        earlier = str(turn.get("question") or "").strip() if isinstance(turn, dict) else ""
        if not earlier:
            continue
        for word in content_words(earlier, language):
            if word in own or word in borrowed:
                continue
            used += len(word) + 1
            if max_borrowed_chars is not None and used > max_borrowed_chars:
                return ResolvedQuestion(question, tuple(borrowed))
            borrowed.append(word)
        if not leans_on_history(earlier, language):
            break
    return ResolvedQuestion(question, tuple(borrowed))
