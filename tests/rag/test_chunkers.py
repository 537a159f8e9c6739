import pytest
from tests.rag.rag_fixtures import AUTH_PY, README_MD

from core.rag.chunking import chunk_file
from core.rag.config import KnowledgeBaseConfig
from core.rag.loaders import SourceFile

PROSE = "\n\n".join(
    " ".join(f"Paragraph {p} sentence {s} talks about topic number {p} in some detail." for s in range(6))
    for p in range(8)
)


def chunks_of(path, text, embed=None, **settings):
    return chunk_file(SourceFile(path, text), KnowledgeBaseConfig(**settings), embed)


def assert_placed(text, chunks):
    """Each chunk's line range holds its text, so a citation points at the right lines."""
    lines = text.splitlines()
    for chunk in chunks:
        assert chunk.text in "\n".join(lines[chunk.start_line - 1:chunk.end_line])
        assert chunk.text.splitlines()[0] in lines[chunk.start_line - 1]


@pytest.mark.parametrize("chunker", ["fixed", "recursive", "code"])
def test_every_chunker_keeps_size_place_and_hash(chunker):
    chunks = chunks_of("notes.txt", PROSE, chunker=chunker, chunk_size=300, chunk_overlap=50)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert_placed(PROSE, chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks == chunks_of("notes.txt", PROSE, chunker=chunker, chunk_size=300, chunk_overlap=50)


def test_fixed_windows_overlap():
    chunks = chunks_of("a.txt", "abcdefghij" * 50, chunker="fixed", chunk_size=100, chunk_overlap=20)
    assert [len(c.text) for c in chunks[:-1]] == [100] * (len(chunks) - 1)
    assert chunks[0].text[-20:] == chunks[1].text[:20]


def test_recursive_prefers_paragraphs_then_sentences_and_never_cuts_words():
    chunks = chunks_of("a.txt", PROSE, chunker="recursive", chunk_size=450, chunk_overlap=0)
    paragraphs = PROSE.split("\n\n")
    assert chunks[0].text == paragraphs[0]  # a paragraph that fits stays whole
    words = set(PROSE.split())
    assert all(set(c.text.split()) <= words for c in chunks)
    small = chunks_of("a.txt", PROSE, chunker="recursive", chunk_size=150, chunk_overlap=0)
    assert all(c.text.endswith(".") for c in small)  # cut at sentence ends


def test_python_is_chunked_by_function_and_class():
    chunks = chunks_of("auth.py", AUTH_PY, chunker="code", chunk_size=200, chunk_overlap=0)
    firsts = [c.text.splitlines()[0] for c in chunks]
    assert "def issue_token(user_id: str) -> str:" in firsts
    assert "@staticmethod" in firsts  # the decorator stays with its function
    assert "class TokenStore:" in firsts
    assert_placed(AUTH_PY, chunks)


def test_a_big_class_is_split_at_its_methods():
    methods = "\n".join(f"    def method_{i}(self):\n        return {i} * {'1' * 60}\n" for i in range(6))
    source = f"class Big:\n    \"\"\"Many methods.\"\"\"\n\n{methods}"
    chunks = chunks_of("big.py", source, chunker="code", chunk_size=250, chunk_overlap=0)
    assert chunks[0].text.startswith("class Big:")
    assert all(c.text.lstrip().startswith(("class Big", "def method_")) for c in chunks)
    assert_placed(source, chunks)


def test_python_that_does_not_parse_is_still_chunked():
    chunks = chunks_of("broken.py", "def broken(:\n    pass\n" * 40, chunker="code", chunk_size=200, chunk_overlap=0)
    assert chunks and all(len(c.text) <= 200 for c in chunks)


def test_other_languages_and_markdown_use_the_language_aware_splitter():
    js = "\n\n".join(f"function handler{i}(event) {{\n  return event.value * {i};\n}}" for i in range(10))
    chunks = chunks_of("app.js", js, chunker="code", chunk_size=120, chunk_overlap=0)
    assert all(c.text.startswith("function handler") for c in chunks)
    assert_placed(js, chunks)
    md = chunks_of("README.md", README_MD, chunker="code", chunk_size=120, chunk_overlap=0)
    assert [c.text.splitlines()[0] for c in md if c.text.startswith("#")] == [
        "# Billing service", "## Invoices", "## Refunds"]  # cut at headings
    assert_placed(README_MD, md)


def test_semantic_chunker_splits_where_the_topic_changes(embedder):
    cooking = ["Whisk the eggs with sugar until pale.", "Fold the flour gently into the batter.",
               "Bake the cake for forty minutes at 180 degrees.", "Let the sponge cool before icing it."]
    space = ["The telescope observed a distant galaxy.", "Astronomers measured the redshift of the quasar.",
             "Dark matter shapes the rotation of spiral galaxies.", "The orbit of the exoplanet takes nine days."]
    text = " ".join(cooking) + "\n\n" + " ".join(space)
    chunks = chunks_of("mixed.txt", text, embed=embedder.embed, chunker="semantic", chunk_size=2000)
    assert any(c.text.endswith("icing it.") for c in chunks)  # a cut between the two topics
    assert not any("icing it." in c.text and "telescope" in c.text for c in chunks)
    assert_placed(text, chunks)


def test_pieces_of_a_long_method_are_indexed_with_the_definitions_around_them():
    body = "\n".join(f"        step_{i} = compute_{i}(value)  # {'x' * 40}" for i in range(30))
    source = f"class Parser:\n    def parse_expression(self, value, *, strict=False):\n{body}\n        return step_29\n"
    chunks = chunks_of("parser.py", source, chunker="code", chunk_size=400, chunk_overlap=0)
    assert len(chunks) > 2 and chunks[0].header == ""  # it shows the class and def lines itself
    inner = chunks[1:]
    assert all(c.header == "class Parser > def parse_expression(self, value, *, strict=False)" for c in inner)
    assert all("class Parser" not in c.text for c in inner)  # the shown chunk stays the file's own text
    assert inner[0].search_text.startswith("parser.py\nclass Parser > def parse_expression(")
    assert inner[0].metadata()["header"] == inner[0].header
    assert_placed(source, chunks)
    plain = chunks_of("parser.py", source, chunker="code", chunk_size=400, chunk_overlap=0, contextual_headers=False)
    assert {c.header for c in plain} == {""} and plain[1].search_text == f"parser.py\n{plain[1].text}"
