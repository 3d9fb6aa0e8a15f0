"""Text handling shared by the retrievers and the search view: words, stop words, query checks.

One tokenizer serves TF-IDF (word), BM25 and highlighting, so that a highlighted word is exactly
a word the lexical retrievers matched: lower-cased runs of Unicode letters and digits
(`\\w+`, so Russian works as English does), minus English and Russian stop words; and the same
words stemmed (Snowball, Russian or English by the word's letters) for the stemmed BM25.
"""

import functools
import re
import threading

import snowballstemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

MAX_QUERY_CHARS = 2_000  # a question, not a document: longer input is refused, not cut
WORD = re.compile(r"\w+")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")

# The common Russian function words (the list NLTK and Snowball use, abridged).
RUSSIAN_STOP_WORDS = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее её мне было вот от меня еще ещё нет о об из ему теперь когда даже ну ли если уже или
    ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут
    где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под
    будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем
    чтобы нее неё сейчас были куда зачем всех никогда можно при наконец два другой хоть
    после над больше тот через эти нас про всего них какая много разве три эту моя впрочем
    хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю
    между это как""".split()  # noqa: SIM905 (a word list reads better as text)
)
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | RUSSIAN_STOP_WORDS


def tokenize(text: str) -> list[str]:
    """The words of `text` that carry meaning: lower-cased, stop words removed, order kept."""
    return [word for word in WORD.findall(text.lower()) if word not in STOP_WORDS]


_stemmers = {  # Snowball's stemmers keep state while they work: one caller at a time
    "cyrillic": snowballstemmer.stemmer("russian"),
    "latin": snowballstemmer.stemmer("english"),
}
_stemming = threading.Lock()


@functools.lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """A word's Snowball stem, Russian for a Cyrillic word and English otherwise: "обновить",
    "обновления" -> "обнов", "обновлен"; "upgrading" -> "upgrad"."""
    stemmer = _stemmers["cyrillic" if CYRILLIC.search(word) else "latin"]
    with _stemming:
        return stemmer.stemWord(word)


def stemmed_tokens(text: str) -> list[str]:
    """`tokenize`, each word reduced to its stem: the forms of one word match each other,
    which matters for Russian, whose nouns and verbs take many endings."""
    return [stem(word) for word in tokenize(text)]


def query_script(text: str) -> str:
    """ "cyrillic" when a query has more Cyrillic than Latin letters, else "latin"; the hybrid
    retriever keeps one set of weights per script (MiniLM reads English only)."""
    return "cyrillic" if len(CYRILLIC.findall(text)) > len(LATIN.findall(text)) else "latin"


def check_query(query: str) -> str:
    """The query stripped, or a ValueError that says what is wrong with it."""
    if not isinstance(query, str):
        raise ValueError(f"a query is text, not {type(query).__name__}")
    query = query.strip()
    if not query:
        raise ValueError("the query is empty: type a question")
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(
            f"the query has {len(query):,} characters; ask a question of at most "
            f"{MAX_QUERY_CHARS:,} (this searches answers, it does not compare documents)"
        )
    if not WORD.search(query):
        raise ValueError("the query has no letters or digits to search for")
    return query


def term_spans(query: str, text: str) -> list[tuple[int, int]]:
    """(start, end) of every word of `text` that is also a meaningful word of `query`."""
    terms = set(tokenize(query))
    return [match.span() for match in WORD.finditer(text) if match.group().lower() in terms]
