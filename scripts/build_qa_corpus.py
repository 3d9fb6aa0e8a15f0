"""Build the Retrieval tab's question-answer corpus from three Debian documentation packages.

    python scripts/build_qa_corpus.py [--out assets/qa_corpus.jsonl] [--no-apt] [--embeddings]

Sources (Debian packages, read from /usr/share/doc after installation):
  python3.11-doc  the Python 3.11 FAQ, Sphinx HTML   -> collection "python-faq" (en)
  debian-faq      the Debian GNU/Linux FAQ, DocBook  -> collection "debian-faq-en" (en)
  debian-faq-ru   the same FAQ in Russian            -> collection "debian-faq-ru" (ru)

Run as root, the script installs whichever of them is missing (apt-get); otherwise it says
which to install. Only this script needs them: the output, one JSON record per line, is
committed, so the app never needs apt.

One record per question: every section whose title contains a question mark. Its answer is
the section's text, including sub-sections that are not questions themselves (the Debian FAQ's
"8.1 What programs does Debian provide...?" keeps its dpkg / APT / aptitude parts), and
excluding nested questions, which are records of their own. Paragraphs are kept as blank
lines, code blocks verbatim. Record fields: id ("<collection>:<html anchor>"), question, answer,
collection, language, source (the Debian package and its version), url (the page inside the
package's doc folder). Rerunning it on the same package versions gives the same file.

`--embeddings` also writes `assets/qa_corpus.minilm.npz`: the all-MiniLM-L6-v2 vectors of every
question, answer and whole entry (question and answer together), keyed by text hash (see
core/retrieval/dense.py), so that dense retrieval over the shipped corpus embeds only the
user's query (a few minutes on two CPU cores).
"""

import argparse
import functools
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "assets" / "qa_corpus.jsonl"
VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
BLOCK_TAGS = {"p", "pre", "li", "dt", "dd", "div", "tr", "table", "ul", "ol", "dl", "blockquote"}
BLOCK_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "section", "br"}
PRE_LINE = "\x00"  # starts every line of a code block until tidy() has seen it
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


@dataclass(frozen=True)
class Collection:
    name: str
    package: str
    language: str
    folder: str  # where the package puts its HTML
    pattern: str  # which pages hold questions
    doc_root: str  # urls are relative to this


COLLECTIONS = (
    Collection(
        "python-faq",
        "python3.11-doc",
        "en",
        "/usr/share/doc/python3.11/html/faq",
        "*.html",
        "/usr/share/doc/python3.11/html",
    ),
    Collection(
        "debian-faq-en",
        "debian-faq",
        "en",
        "/usr/share/doc/debian/FAQ",
        "*.en.html",
        "/usr/share/doc/debian/FAQ",
    ),
    Collection(
        "debian-faq-ru",
        "debian-faq-ru",
        "ru",
        "/usr/share/doc/debian/FAQ/ru",
        "*.ru.html",
        "/usr/share/doc/debian/FAQ",
    ),
)


@dataclass
class Node:
    """A minimal DOM element: enough to walk sections and read their text."""

    tag: str
    attrs: dict[str, str]
    children: list["Node | str"] = field(default_factory=list)

    def is_section(self) -> bool:
        """Sphinx writes <section>, DocBook <div class="section">."""
        classes = self.attrs.get("class", "").split()
        return self.tag == "section" or (self.tag == "div" and "section" in classes)

    def anchor(self) -> str:
        """Sphinx puts the id on the section, DocBook on an <a id> inside the title."""
        if "id" in self.attrs:
            return self.attrs["id"]
        heading = self.heading()
        for node in heading.walk() if heading else ():
            if node.tag == "a" and "id" in node.attrs:
                return node.attrs["id"]
        return ""

    def walk(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def heading(self) -> "Node | None":
        """The first heading inside this section, not inside a nested section."""
        for child in self.children:
            if isinstance(child, Node) and not child.is_section():
                if child.tag in HEADINGS:
                    return child
                found = child.heading()
                if found is not None:
                    return found
        return None


class TreeBuilder(HTMLParser):
    """html.parser events -> a Node tree (tolerates unclosed tags by closing up to a match)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    return builder.root


def text_of(node: Node, skip=lambda node: False, in_pre: bool = False) -> str:
    """Readable text: block elements start new lines, <pre> stays verbatim, the rest is joined."""
    parts = []
    for child in node.children:
        if isinstance(child, str) and in_pre:  # mark code lines so that tidy keeps their indent
            parts.append(child.replace("\n", "\n" + PRE_LINE))
        elif isinstance(child, str):
            parts.append(re.sub(r"\s+", " ", child))
        elif not skip(child) and child.attrs.get("class") != "headerlink":
            inner = text_of(child, skip, in_pre or child.tag == "pre")
            if child.tag == "pre":
                inner = PRE_LINE + inner
            parts.append(f"\n{inner}\n" if child.tag in BLOCK_TAGS else inner)
    return "".join(parts)


def tidy(text: str) -> str:
    """Trim every line but code lines, keep at most one blank line between paragraphs."""
    lines = text.split("\n")
    text = "\n".join(
        line.removeprefix(PRE_LINE).rstrip() if line.startswith(PRE_LINE) else line.strip()
        for line in lines
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def question_title(section: Node) -> str:
    """The section's title without DocBook's "3.1.2." numbering or Sphinx's pilcrow."""
    heading = section.heading()
    title = re.sub(r"\s+", " ", text_of(heading)).strip() if heading else ""
    return re.sub(r"^\d+(\.\d+)*\.\s+", "", title).replace("¶", "").strip()


def is_question(section: Node) -> bool:
    return "?" in question_title(section)


def nested_question_of(section: Node):
    """What an answer leaves out: the section's own title, and the questions nested in it."""
    heading = section.heading()
    return lambda node: (
        node is not section and (node is heading or (node.is_section() and is_question(node)))
    )


def question_records(page: Path, collection: Collection) -> list[dict]:
    """One record per question section of one HTML page."""
    records = []
    url = str(page.relative_to(collection.doc_root))
    for section in parse_html(page).walk():
        if not section.is_section() or not is_question(section):
            continue
        answer = tidy(text_of(section, skip=nested_question_of(section)))
        if not answer:
            continue
        anchor = section.anchor()
        records.append(
            {
                "id": f"{collection.name}:{page.name.split('.')[0]}#{anchor}",
                "question": question_title(section),
                "answer": answer,
                "collection": collection.name,
                "language": collection.language,
                "source": f"{collection.package} {package_version(collection.package)}",
                "url": f"{url}#{anchor}",
            }
        )
    return records


@functools.cache
def package_version(package: str) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def ensure_packages(packages: list[str], allow_apt: bool) -> None:
    """Install the missing Debian packages as root; otherwise stop and say which are missing."""
    missing = [name for name in packages if package_version(name) == "unknown"]
    if not missing:
        return
    if not allow_apt or not hasattr(sys, "getuid") or __import__("os").getuid() != 0:
        sys.exit(f"install the Debian packages first: apt-get install {' '.join(missing)}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    subprocess.run([*install, *missing], check=True)


def build(collections=COLLECTIONS) -> list[dict]:
    records = []
    for collection in collections:
        pages = sorted(Path(collection.folder).glob(collection.pattern))
        if not pages:
            sys.exit(f"no pages {collection.pattern} in {collection.folder}")
        for page in pages:
            records.extend(question_records(page, collection))
    ids = [record["id"] for record in records]
    duplicates = sorted({name for name in ids if ids.count(name) > 1})
    if duplicates:
        sys.exit(f"duplicate record ids: {duplicates[:5]}")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-apt", action="store_true", help="never call apt-get")
    parser.add_argument("--embeddings", action="store_true", help="also embed it (MiniLM)")
    args = parser.parse_args()
    ensure_packages([c.package for c in COLLECTIONS], allow_apt=not args.no_apt)
    records = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    for collection in COLLECTIONS:
        count = sum(record["collection"] == collection.name for record in records)
        print(f"{collection.name:<14} {count:4d} questions")
    print(f"wrote {len(records)} records to {args.out}")
    if args.embeddings:
        write_embeddings(records)


def write_embeddings(records: list[dict]) -> None:
    """Embed every question, answer and whole entry (question and answer, the documents of the
    paraphrase benchmark) with the dense retriever's model and ship the vectors."""
    sys.path.insert(0, str(REPO_ROOT))
    from core.retrieval.corpus import entry_text
    from core.retrieval.dense import SHIPPED_CACHE, encode, text_key, write_vectors

    texts = sorted(
        {r[field] for r in records for field in ("question", "answer")}
        | {entry_text(r["question"], r["answer"]) for r in records}
    )
    vectors = dict(zip(map(text_key, texts), encode(texts), strict=True))  # all afresh
    write_vectors(SHIPPED_CACHE, vectors)
    print(f"wrote {len(vectors)} vectors to {SHIPPED_CACHE}")


if __name__ == "__main__":
    main()
