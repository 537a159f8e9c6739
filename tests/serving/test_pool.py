"""The server's model pool: loads once, stays within its memory budget, evicts the least recently used."""

from core.llm.spec import parse_spec
from core.serving.pool import ModelPool, expected_bytes, load_for_pool, model_bytes


def test_a_model_loads_once_and_the_least_recently_used_leaves_first(tiny_model_dir):
    f32, bf16, f16 = (parse_spec(f"local:{tiny_model_dir}?dtype={dtype}") for dtype in ("float32", "bfloat16", "float16"))
    size32, size16 = (model_bytes(load_for_pool(spec)) for spec in (f32, bf16))
    pool = ModelPool(budget_bytes=size32 + size16 + 1)  # room for the float32 model and one half-size one

    first = pool.get(f32)
    pool.get(bf16)
    assert pool.get(f32) is first  # loaded once; now the most recently used
    pool.get(f16)
    assert [entry.spec for entry in pool.entries()] == [f32.text, f16.text]  # bf16 left, not f32
    assert sum(entry.bytes for entry in pool.entries()) <= pool.budget_bytes


def test_room_is_made_before_a_model_loads_so_memory_never_exceeds_the_budget(tiny_model_dir):
    f32, bf16, f32_cpu = (parse_spec(f"local:{tiny_model_dir}?{options}")
                          for options in ("dtype=float32", "dtype=bfloat16", "dtype=float32&device=cpu"))
    size32, size16 = (model_bytes(load_for_pool(spec)) for spec in (f32, bf16))
    held_at_load = []

    def load(spec):
        held_at_load.append(sum(entry.bytes for entry in pool.entries()))
        return load_for_pool(spec)

    pool = ModelPool(budget_bytes=size32 + size16 + 1, load=load)
    for spec in (f32, bf16, f32_cpu):  # the third needs the first's room
        pool.get(spec)
    assert held_at_load == [0, size32, size16]  # f32 left before f32_cpu loaded, not after
    assert [entry.spec for entry in pool.entries()] == [bf16.text, f32_cpu.text]


def test_a_models_size_is_read_from_its_headers_before_loading(tiny_model_dir):
    for dtype in ("float32", "bfloat16"):
        spec = parse_spec(f"local:{tiny_model_dir}?dtype={dtype}")
        assert abs(expected_bytes(spec) - model_bytes(load_for_pool(spec))) < 100  # buffers aside
    assert expected_bytes(parse_spec("local:HuggingFaceTB/SmolLM2-135M-Instruct")) is None  # a hub id


def test_a_model_larger_than_the_budget_still_loads_alone(tiny_model_dir):
    pool = ModelPool(budget_bytes=1)
    pool.get(parse_spec(f"local:{tiny_model_dir}?dtype=float32"))
    pool.get(parse_spec(f"local:{tiny_model_dir}?dtype=bfloat16"))
    assert [entry.dtype for entry in pool.entries()] == ["bfloat16"]


def test_release_empties_the_pool(tiny_model_dir):
    pool = ModelPool(budget_bytes=10 ** 9)
    spec = parse_spec(f"local:{tiny_model_dir}?dtype=float32")
    pool.get(spec)
    assert pool.release() == [spec.text] and pool.entries() == []


def test_pool_models_are_not_kept_by_the_process_cache(tiny_model_dir):
    spec = parse_spec(f"local:{tiny_model_dir}?dtype=float32")
    assert load_for_pool(spec).loaded is not load_for_pool(spec).loaded
