"""Sources and a scripted model shared by the RAG tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.llm.base import Backend, Completion, GenerationOptions, Prompt

AUTH_PY = '''"""Session tokens for the web app."""

import hashlib

TOKEN_TTL_SECONDS = 3600


def issue_token(user_id: str) -> str:
    """Issue a signed session token that expires after one hour."""
    return hashlib.sha256(user_id.encode()).hexdigest()


@staticmethod
def refresh_token(token: str) -> str:
    """Refresh an expiring session token before its expiry time."""
    return token[::-1]


class TokenStore:
    """Keeps revoked tokens so logout is immediate."""

    def revoke(self, token: str) -> None:
        self.revoked.add(token)
'''

README_MD = """# Billing service

## Invoices

Invoices are generated on the first day of each month and emailed to the account owner as PDF.

## Refunds

Refunds are issued to the original payment card within five business days.
"""

GUIDE_HTML = """<html><head><style>body {color: red}</style><script>var tracking = 1;</script></head>
<body><h1>Deployment guide</h1><p>Deploy the service with the blue-green strategy on Kubernetes.</p></body></html>"""


def make_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer is `text` (pypdf writes it; pypdf reads it back)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


JINJA_SOURCES = ("environment.py", "lexer.py", "parser.py", "runtime.py")  # ~300 chunks: seconds to embed


def copy_jinja_sources(folder: Path, names: tuple[str, ...] = JINJA_SOURCES) -> Path:
    """A folder of real source files (jinja2's own), big enough that embedding them takes a while."""
    import jinja2

    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(Path(jinja2.__file__).parent / name, folder / name)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChromaServer:
    """A real `chroma run` on 127.0.0.1, its data in `folder`; started again, it serves the same data on the
    same port."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> str:
        chroma = Path(sys.executable).parent / "chroma"
        with open(self.folder.parent / "chroma.log", "ab") as log:
            self.process = subprocess.Popen([str(chroma), "run", "--host", "127.0.0.1", "--port", str(self.port),
                                             "--path", str(self.folder)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return self.url
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"chroma did not start: {(self.folder.parent / 'chroma.log').read_text()}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL: the server ends at once, whatever it was doing (even stopped by SIGSTOP)."""
        self.process.kill()
        self.process.wait(timeout=30)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "HOME": str(repo),
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}).stdout


class ScriptedBackend(Backend):
    """A real `Backend` that answers with queued texts and keeps the prompts it was given."""

    model_id = "scripted"

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt, options: GenerationOptions = GenerationOptions()) -> Completion:
        started = time.perf_counter()
        self.prompts.append(prompt)
        text = self.answers.pop(0)
        return Completion(text, input_tokens=len(prompt.messages[0].content.split()), output_tokens=len(text.split()),
                          latency_ms=(time.perf_counter() - started) * 1000 + 5.0, model=self.model_id, cost_usd=0.0)
