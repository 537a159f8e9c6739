"""Golden eval sets: JSONL files checked line by line, kept as rows in the store.

The format is `eval_sets/README.md`'s. Every line is checked and every problem
reported with its line number; a file with any problem imports nothing. A set
is a row plus its items, written in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator,
                      model_validator)
from sqlmodel import col, select

from core.access import Actor, Role, audit, require
from core.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from core.paths import readable_path
from core.rag.config import validate_name
from core.store import Database
from core.store.tables import EvalItem, EvalSet

MAX_PROBLEMS_SHOWN = 10
NonEmpty = Field(min_length=1)
Verbatim = Annotated[str, StringConstraints(strip_whitespace=False)]  # a quoted passage keeps its indentation


class EvidenceLines(BaseModel):
    """The lines of a source that answer a question (1-based, inclusive)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str = NonEmpty
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "EvidenceLines":
        if self.end_line < self.start_line:
            raise ValueError(f"end_line {self.end_line} is before start_line {self.start_line}")
        return self


class ItemLine(BaseModel):
    """One line of an eval set file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Union[str, int]
    question: str = NonEmpty
    reference_answer: Optional[str] = None
    relevant_sources: list[str] = []
    kind: Optional[Literal["factual", "behaviour"]] = None
    keywords: list[str] = []
    tags: list[str] = []
    reference_contexts: list[Verbatim] = []
    evidence: list[EvidenceLines] = []

    @field_validator("id", mode="before")
    @classmethod
    def _id_not_a_boolean(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic would take true for 1, then report a duplicate of id '1'
            raise ValueError("must be text or a whole number, not true or false")
        return value

    @field_validator("id", "question")
    @classmethod
    def _text(cls, value: Union[str, int]) -> str:
        text = str(value).strip()  # Python's strip also takes the separators \x1c-\x1f, which pydantic's keeps
        if not text:
            raise ValueError("must not be empty")
        return text

    @field_validator("relevant_sources", "keywords", "tags")
    @classmethod
    def _no_blank_entries(cls, values: list[str]) -> list[str]:
        return [value.strip() for value in cls._no_blank_contexts(values)]

    @field_validator("reference_contexts")
    @classmethod
    def _no_blank_contexts(cls, values: list[str]) -> list[str]:
        if any(not value.strip() for value in values):
            raise ValueError("must not hold empty strings")
        return values


def parse_eval_set(text: str, where: str = "the eval set") -> list[ItemLine]:
    """The items of a JSONL eval set; `InvalidInputError` listing every bad line otherwise."""
    items, problems, first_line = [], [], {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = ItemLine.model_validate(json.loads(line))
        except ValueError as exc:  # json's and pydantic's errors
            problems.append(f"line {number}: {_describe(exc)}")
            continue
        except RecursionError:
            problems.append(f"line {number}: not valid JSON (lists or objects nested too deeply)")
            continue
        if item.id in first_line:
            problems.append(f"line {number}: id {item.id!r} is already used on line {first_line[item.id]}")
            continue
        first_line[item.id] = number
        items.append(item)
    if not items and not problems:
        problems.append("it holds no questions")
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise InvalidInputError(f"{where} cannot be imported: " + "; ".join(shown) + more +
                                ". Nothing was imported; eval_sets/README.md describes the format.")
    return items


def _describe(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(_field_problem(error) for error in exc.errors())
    return f"not valid JSON ({exc})"


def _field_problem(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "the line"
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r} (known: {', '.join(ItemLine.model_fields)})"
    if error["type"] == "missing":
        return f"{field} is missing"
    if error["type"] == "model_type":
        return "not a JSON object"
    return f"{field}: {error['msg']}"


def import_eval_set(db: Database, name: str, text: str, source: str, *, actor: Actor) -> EvalSet:
    """Check `text` and store it as eval set `name`, from `source` (a path or "upload:<file>"); admins only."""
    require(actor, Role.ADMIN, "import an eval set")
    name = validate_name(name, "eval set", "support-v1")
    items = parse_eval_set(text, source)
    with db.session(immediate=True) as session:
        if session.exec(select(EvalSet).where(EvalSet.name == name)).first():
            raise AlreadyExistsError(f"An eval set named {name!r} exists: remove it "
                                     f"(`python -m core evalset remove {name}`), or pick another name.")
        row = EvalSet(name=name, source=source, sha256=_digest(text), item_count=len(items), created_by=actor.email)
        session.add(row)
        session.flush()
        session.add_all(EvalItem(set_id=row.id, position=position, item_id=item.id,
                                 **item.model_dump(exclude={"id"})) for position, item in enumerate(items))
    return row


def import_eval_upload(db: Database, name: str, data: bytes, file_name: str, *, actor: Actor) -> EvalSet:
    """Import the bytes of an uploaded file."""
    try:
        text = data.decode("utf-8-sig")  # editors on Windows start UTF-8 files with a byte order mark
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{file_name} is not UTF-8 text ({exc}): save it as UTF-8 and upload it "
                                "again.") from exc
    return import_eval_set(db, name, text, f"upload:{file_name}", actor=actor)


def import_eval_file(db: Database, path: Union[str, Path], name: Optional[str] = None, *, actor: Actor) -> EvalSet:
    """Import a JSONL file; the set is named after the file unless `name` is given."""
    path = Path(path).expanduser()
    return import_eval_set(db, name or path.stem, _read(path), str(path), actor=actor)


def resolve_eval_set(db: Database, name_or_file: str, *, actor: Actor) -> EvalSet:
    """A stored set by name, or a JSONL file's set: imported (named after the file, which `actor` must
    be allowed to do) unless the same text is stored under that name already."""
    path = Path(name_or_file).expanduser()
    if not (name_or_file.endswith(".jsonl") and path.is_file()):
        return get_eval_set(db, name_or_file)
    with db.session(immediate=False) as session:
        stored = session.exec(select(EvalSet).where(EvalSet.name == path.stem)).first()
    if stored is None:
        return import_eval_file(db, path, actor=actor)
    if stored.sha256 != _digest(_read(path)):
        raise AlreadyExistsError(f"A different eval set named {path.stem!r} is stored: run it by name, or "
                                 f"remove it (`python -m core evalset remove {path.stem}`).")
    return stored


def _read(path: Path) -> str:
    try:
        return readable_path(path).read_text(encoding="utf-8-sig")
    except NotFoundError:
        raise NotFoundError(f"No eval set file {path}: check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path} cannot be read as UTF-8 text ({exc}).") from exc


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def list_eval_sets(db: Database) -> list[EvalSet]:
    with db.session(immediate=False) as session:
        return list(session.exec(select(EvalSet).order_by(EvalSet.name)).all())


def get_eval_set(db: Database, name: str) -> EvalSet:
    with db.session(immediate=False) as session:
        row = session.exec(select(EvalSet).where(EvalSet.name == name)).first()
    if row is None:
        known = ", ".join(s.name for s in list_eval_sets(db)) or "none yet"
        raise NotFoundError(f"No eval set named {name!r} (known: {known}): import one with "
                            "`python -m core evalset import FILE`.")
    return row


def eval_items(db: Database, name: str) -> list[EvalItem]:
    """The set's items in file order."""
    eval_set = get_eval_set(db, name)
    with db.session(immediate=False) as session:
        return list(session.exec(select(EvalItem).where(EvalItem.set_id == eval_set.id)
                                 .order_by(col(EvalItem.position))).all())


def remove_eval_set(db: Database, name: str, *, actor: Actor) -> None:
    require(actor, Role.ADMIN, "remove an eval set")
    eval_set = get_eval_set(db, name)
    with db.session() as session:  # the row and its audit entry go together
        audit.record(session, actor, "eval_sets.remove", f"eval set {name}",
                     before={"source": eval_set.source, "questions": eval_set.item_count})
        session.delete(session.get(EvalSet, eval_set.id))
