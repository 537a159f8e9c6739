"""The safetensors copy of SmolLM2 is published whole, once, however many processes make it at once.

`cached_smollm2` writes its copy through `publish_folder`; racing the real
conversion costs two SmolLM2 loads, so the race is run on the publish step."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from core.llm.sources import publish_folder


def test_two_makers_racing_on_an_empty_cache_publish_one_whole_copy(tmp_path):
    target = tmp_path / "cache" / "SmolLM2"
    both_written = threading.Barrier(2)

    def write(folder):
        (folder / "config.json").write_text(json.dumps({"writer": threading.get_ident()}))
        (folder / "model.safetensors").write_bytes(os.urandom(1000))
        both_written.wait(10)  # both copies are complete before either is renamed into place

    with ThreadPoolExecutor(2) as makers:
        published = list(makers.map(lambda _: publish_folder(target, write), range(2)))
    assert published == [target, target]
    assert sorted(path.name for path in target.iterdir()) == ["config.json", "model.safetensors"]
    assert [path.name for path in target.parent.iterdir()] == ["SmolLM2"]  # the loser dropped its copy


def test_a_copy_abandoned_by_a_dead_process_is_removed(tmp_path):
    cache = tmp_path / "cache"
    abandoned = cache / ".SmolLM2.999999999.0a1b2c3d.partial"  # no process has that pid
    in_progress = cache / f".SmolLM2.{os.getpid()}.4e5f6a7b.partial"  # a live process is writing it
    for folder in (abandoned, in_progress):
        folder.mkdir(parents=True)
    publish_folder(cache / "SmolLM2", lambda folder: (folder / "config.json").write_text("{}"))
    assert sorted(path.name for path in cache.iterdir()) == sorted(["SmolLM2", in_progress.name])
