"""A job that stopped between saving its adapter's folder and registering it: the name is not blocked forever."""

from __future__ import annotations

import pytest
from sqlmodel import delete

from core.errors import AlreadyExistsError
from core.finetune.adapters import validate_adapter_name
from core.llm.adapters import adapters_dir, find_adapter
from core.llm.local import LocalBackend
from core.llm.spec import parse_spec
from core.store.tables import Adapter


def unregister(db, name: str) -> None:
    """The state a crash right after the folder's rename leaves: the folder, no row."""
    with db.session() as session:
        session.exec(delete(Adapter).where(Adapter.name == name))


def test_an_unregistered_adapter_folder_is_registered_when_its_name_is_asked_for(db, adapter, tiny_model_dir):
    unregister(db, adapter)
    with pytest.raises(AlreadyExistsError, match="was saved but not registered .* it is registered now"):
        validate_adapter_name(db, adapter)
    row = find_adapter(db, adapter)
    assert row.base_model == str(tiny_model_dir) and row.size_bytes > 0
    backend = LocalBackend.from_spec(parse_spec(f"local:{tiny_model_dir}?adapter={adapter}&dtype=float32"))
    assert backend.loaded.name.endswith(f"+{adapter}")
    with pytest.raises(AlreadyExistsError, match="exists: pick another name"):
        validate_adapter_name(db, adapter)


def test_a_folder_no_training_job_saved_is_left_alone_with_a_clear_message(db):
    folder = adapters_dir() / "copied-in"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    with pytest.raises(AlreadyExistsError, match=f"{folder} exists but was not saved by a training job"):
        validate_adapter_name(db, "copied-in")
    assert find_adapter(db, "copied-in") is None and (folder / "adapter_config.json").is_file()
