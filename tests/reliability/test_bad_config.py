"""Bad settings: system specs, training and knowledge-base configs, names and environment variables that
cannot be used are refused with a `LabError` naming what to fix, never another exception.

One table per area; each row is one distinct bad input.
"""

from __future__ import annotations

import socket

import pytest

from core.cpu_share import fixed_threads
from core.errors import InvalidInputError, LabError, StoreError
from core.finetune.config import TrainingConfig
from core.jobs.scheduler import max_running_jobs
from core.llm.pricing import local_usd_per_hour
from core.llm.registry import key_env_for
from core.llm.spec import parse_spec
from core.rag.config import KnowledgeBaseConfig, validate_name
from core.serving.routing import model_server_mode
from core.settings import get_settings
from core.store import current_database

pytestmark = pytest.mark.reliability


def refused(call, message: str, error: type[LabError] = InvalidInputError) -> str:
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value), str(raised.value)
    return str(raised.value)


# --- system specs (core.llm.spec.parse_spec) ----------------------------------------------------------------

BAD_SPECS = [
    pytest.param("", "Unknown backend '(empty)'", id="empty"),
    pytest.param("   ", "Unknown backend '(empty)'", id="blank"),
    pytest.param("gemini:pro", "Unknown backend 'gemini'", id="unknown-backend"),
    pytest.param("local?kb=docs\udcff", "holds bytes that are not UTF-8 text", id="bytes-not-utf-8"),
    pytest.param("openai", "names no model: OpenAI-compatible needs one", id="api-without-model"),
    pytest.param("openai:   ", "names no model", id="api-with-blank-model"),
    pytest.param("local?temperature=1", "Unknown option 'temperature' for local", id="unknown-option"),
    pytest.param("local?KB=docs", "Unknown option 'KB' for local", id="option-in-capitals"),
    pytest.param("local?dtype=int3", "dtype='int3' is not one of", id="option-not-a-choice"),
    pytest.param("local?adapter=", "Option 'adapter' in system spec 'local?adapter=' has no value", id="empty-value"),
    pytest.param("local?dtype", "are not key=value pairs joined by '&'", id="option-without-value"),
    pytest.param("local?kb=docs&&k=2", "are not key=value pairs", id="empty-pair"),
    pytest.param("local?kb=a&kb=b", "Option 'kb' is given twice", id="duplicate-option"),
    pytest.param("local?k=4", "k in system spec 'local?k=4' only apply with kb=NAME", id="retrieval-without-kb"),
    pytest.param("local?kb=docs&k=0", "k='0' must be a positive number", id="zero-chunks"),
    pytest.param("local?kb=docs&k=many", "k='many' must be a positive number", id="chunks-not-a-number"),
    pytest.param("local?kb=docs&mode=fuzzy", "mode='fuzzy' is not one of hybrid, dense, bm25", id="unknown-mode"),
    pytest.param("local?batch_size=-2", "batch_size='-2' must be a positive number", id="negative-batch"),
    pytest.param("anthropic?timeout=-1", "timeout='-1' must be a positive number", id="negative-timeout"),
    pytest.param("anthropic?timeout=nan", "timeout='nan' must be a positive number", id="nan-timeout"),
    pytest.param("anthropic?timeout=inf", "timeout='inf' must be a positive number", id="infinite-timeout"),
    pytest.param("openai:m?max_retries=2.5", "max_retries='2.5' must be a positive number", id="fractional-retries"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS)
def test_a_bad_system_spec_says_what_is_wrong_and_lists_the_valid_forms(text, message):
    assert "Valid forms: `local`" in refused(lambda: parse_spec(text), message)


# --- training configs (core.finetune.config.TrainingConfig.from_dict, as a stored job reads it) --------------

BAD_TRAINING = [
    pytest.param({"lora_r": 0}, "lora_r must be at least 1 (it is 0)", id="rank-zero"),
    pytest.param({"lora_r": -4, "lora_alpha": 8}, "lora_r must be at least 1 (it is -4)", id="rank-negative"),
    pytest.param({"lora_r": "16"}, "lora_r must be a whole number, not '16'", id="rank-as-text"),
    pytest.param({"lora_r": True}, "lora_r must be a whole number, not True", id="rank-as-boolean"),
    pytest.param({"max_steps": 4.0}, "max_steps must be a whole number, not 4.0", id="steps-as-float"),
    pytest.param({"lora_dropout": 1.0}, "lora_dropout must be in [0, 1)", id="dropout-one"),
    pytest.param({"learning_rate": 0}, "learning_rate must be between 0 and 1", id="learning-rate-zero"),
    pytest.param({"learning_rate": float("nan")}, "learning_rate must be a finite number, not nan",
                 id="learning-rate-nan"),
    pytest.param({"epochs": float("nan")}, "epochs must be a finite number, not nan", id="epochs-nan"),
    pytest.param({"epochs": float("inf")}, "epochs must be a finite number, not inf", id="epochs-infinite"),
    pytest.param({"max_steps": -1}, "set epochs or max_steps to more than 0", id="steps-negative"),
    pytest.param({"epochs": 0, "max_steps": 0}, "set epochs or max_steps to more than 0", id="nothing-to-train"),
    pytest.param({"warmup_ratio": 1.5}, "warmup_ratio must be in [0, 1)", id="warmup-over-one"),
    pytest.param({"batch_size": 0}, "batch_size must be at least 1", id="batch-zero"),
    pytest.param({"max_seq_length": 8}, "max_seq_length 8 leaves no room", id="sequence-too-short"),
    pytest.param({"precision": "fp8"}, "precision 'fp8' is not one of auto, bf16, fp16, fp32", id="unknown-precision"),
    pytest.param({"lr_schedule": "step"}, "lr_schedule 'step' is not one of", id="unknown-schedule"),
    pytest.param({"device": "tpu"}, "device 'tpu' is not one of", id="unknown-device"),
    pytest.param({"target_modules": []}, "target_modules must name at least one module", id="no-target-modules"),
    pytest.param({"target_modules": ["q_proj", ""]}, "target_modules must name at least one module",
                 id="blank-target-module"),
    pytest.param({"target_modules": "q_proj"}, "target_modules must be a list of module names, e.g. q_proj, v_proj, "
                 "not 'q_proj'", id="target-modules-as-text"),
    pytest.param({"target_modules": 5}, "target_modules must be a list of module names", id="target-modules-number"),
    pytest.param({"dataset": "  "}, "dataset is empty: pick a dataset", id="blank-dataset"),
    pytest.param({"adapter_name": None}, "adapter_name must be text, not None", id="adapter-name-null"),
    pytest.param({"qlora": "yes"}, "qlora must be true or false, not 'yes'", id="qlora-as-text"),
    pytest.param({"extra": ["note"]}, "extra must be an object, not ['note']", id="extra-a-list"),
]


@pytest.mark.parametrize("overrides, message", BAD_TRAINING)
def test_a_bad_training_config_names_the_setting_to_fix(overrides, message):
    data = {"dataset": "support-style", "adapter_name": "support-v1", **overrides}
    assert refused(lambda: TrainingConfig.from_dict(data), message).startswith("The training config is not valid")


def test_an_unknown_training_setting_is_refused():
    refused(lambda: TrainingConfig.from_dict({"dataset": "d", "adapter_name": "a", "learning_rat": 0.1}),
            "Unknown training setting(s): learning_rat.")


# --- knowledge-base configs (core.rag.config.KnowledgeBaseConfig.from_dict, as a stored row is read) ---------

BAD_KB_CONFIGS = [
    pytest.param({"source_kind": "s3"}, "source_kind must be one of folder, git, upload, not 's3'",
                 id="unknown-source"),
    pytest.param({"chunker": "magic"}, "chunker must be one of code, recursive, fixed, semantic", id="unknown-chunker"),
    pytest.param({"chunk_size": 99}, "chunk_size must be between 100 and 20000 characters, not 99", id="chunks-tiny"),
    pytest.param({"chunk_size": 20_001}, "chunk_size must be between 100 and 20000", id="chunks-huge"),
    pytest.param({"chunk_size": "800"}, "chunk_size must be a whole number, not '800'", id="chunk-size-as-text"),
    pytest.param({"chunk_size": 800.0}, "chunk_size must be a whole number, not 800.0", id="chunk-size-as-float"),
    pytest.param({"chunk_size": None}, "chunk_size must be a whole number, not None", id="chunk-size-null"),
    pytest.param({"chunk_overlap": -1}, "chunk_overlap must be at least 0 and under half", id="overlap-negative"),
    pytest.param({"chunk_overlap": 400}, "under half of chunk_size (400), not 400", id="overlap-half-the-chunk"),
    pytest.param({"neighbours": 4}, "neighbours must be between 0 and 3, not 4", id="too-many-neighbours"),
    pytest.param({"neighbours": -1}, "neighbours must be between 0 and 3, not -1", id="negative-neighbours"),
    pytest.param({"max_file_bytes": 0}, "max_file_bytes must be positive", id="file-limit-zero"),
    pytest.param({"source_kind": "git", "git_rev": " "}, "git_rev is empty", id="blank-git-revision"),
    pytest.param({"source_kind": "git", "git_rev": None}, "git_rev must be text, not None", id="null-git-revision"),
    pytest.param({"bfloat16": "yes"}, "bfloat16 must be true or false, not 'yes'", id="bfloat16-as-text"),
    pytest.param({"contextual_headers": 1}, "contextual_headers must be true or false, not 1", id="headers-as-number"),
    pytest.param({"source_path": ["docs"]}, "source_path must be text, not ['docs']", id="source-path-a-list"),
]


@pytest.mark.parametrize("values, message", BAD_KB_CONFIGS)
def test_a_bad_knowledge_base_config_names_the_field_to_fix(values, message):
    refused(lambda: KnowledgeBaseConfig.from_dict(values), message)


# --- names of knowledge bases, datasets, eval sets and adapters (core.rag.config.validate_name) -------------

BAD_NAMES = [
    pytest.param("", "The dataset needs a name", id="empty"),
    pytest.param(" \t", "The dataset needs a name", id="blank"),
    pytest.param(None, "The dataset needs a name", id="null"),
    pytest.param("../etc", "'../etc' is not a valid dataset name", id="parent-traversal"),
    pytest.param("a/b", "'a/b' is not a valid dataset name", id="slash"),
    pytest.param("a\\b", "is not a valid dataset name", id="backslash"),
    pytest.param("a..b", "'a..b' is not a valid dataset name", id="double-dot"),
    pytest.param(".hidden", "'.hidden' is not a valid dataset name", id="leading-dot"),
    pytest.param("-rf", "'-rf' is not a valid dataset name", id="leading-dash"),
    pytest.param("two words", "'two words' is not a valid dataset name", id="space"),
    pytest.param("naïve", "'naïve' is not a valid dataset name", id="non-ascii"),
    pytest.param("a\x00b", "is not a valid dataset name", id="nul-character"),
    pytest.param("x" * 64, "use 1-63 letters, digits", id="64-characters"),
]


@pytest.mark.parametrize("name, message", BAD_NAMES)
def test_a_bad_name_says_what_a_valid_name_looks_like(name, message):
    refused(lambda: validate_name(name, "dataset", "support-style"), message)


# --- environment variables (read when used, so a bad value is reported where it matters) --------------------

def key_for_self_hosted_server() -> str:
    return key_env_for("openai", {"base_url": "http://127.0.0.1:8000/v1", "key_env": "TEAM_KEY"})


BAD_ENVIRONMENT = [
    pytest.param("RAGTUNE_THREADS", "many", fixed_threads, "RAGTUNE_THREADS='many': use 'auto' or a whole number",
                 id="threads-word"),
    pytest.param("RAGTUNE_THREADS", "0", fixed_threads, "of at least 1", id="threads-zero"),
    pytest.param("RAGTUNE_THREADS", "-2", fixed_threads, "RAGTUNE_THREADS='-2'", id="threads-negative"),
    pytest.param("RAGTUNE_THREADS", "1.5", fixed_threads, "RAGTUNE_THREADS='1.5'", id="threads-fraction"),
    pytest.param("RAGTUNE_THREADS", "²", fixed_threads, "RAGTUNE_THREADS='²'", id="threads-superscript-digit"),
    pytest.param("RAGTUNE_MAX_JOBS", "0", max_running_jobs, "RAGTUNE_MAX_JOBS='0': set it to how many jobs",
                 id="max-jobs-zero"),
    pytest.param("RAGTUNE_MAX_JOBS", "²", max_running_jobs, "RAGTUNE_MAX_JOBS='²'", id="max-jobs-superscript-digit"),
    pytest.param("RAGTUNE_LOCAL_USD_PER_HOUR", "-1", local_usd_per_hour, "RAGTUNE_LOCAL_USD_PER_HOUR='-1' is not a "
                 "price", id="price-negative"),
    pytest.param("RAGTUNE_LOCAL_USD_PER_HOUR", "$1.50", local_usd_per_hour, "is not a price: set it to USD per hour",
                 id="price-with-currency-sign"),
    pytest.param("RAGTUNE_LOCAL_USD_PER_HOUR", "nan", local_usd_per_hour, "'nan' is not a price", id="price-nan"),
    pytest.param("RAGTUNE_LOCAL_USD_PER_HOUR", "inf", local_usd_per_hour, "'inf' is not a price", id="price-infinite"),
    pytest.param("RAGTUNE_MODEL_SERVER", "yes", model_server_mode, "RAGTUNE_MODEL_SERVER='yes' is not one of auto, "
                 "on, off", id="model-server-yes"),
    pytest.param("RAGTUNE_MODEL_SERVER", "", model_server_mode, "RAGTUNE_MODEL_SERVER='' is not one of",
                 id="model-server-empty"),
    pytest.param("RAGTUNE_KEY_ENVS", "", key_for_self_hosted_server, "key_env='TEAM_KEY' is not a key this lab may "
                 "send: the operator lists the variables a server's key may come from in RAGTUNE_KEY_ENVS (now: none)",
                 id="key-envs-unset"),
    pytest.param("RAGTUNE_KEY_ENVS", " , ,", key_for_self_hosted_server, "(now: none)", id="key-envs-only-commas"),
    pytest.param("RAGTUNE_KEY_ENVS", "OTHER_KEY,team_key", key_for_self_hosted_server,
                 "(now: OTHER_KEY, team_key)", id="key-envs-other-case"),
    pytest.param("RAGTUNE_AUTH", "ldap", get_settings, "RAGTUNE_AUTH='ldap': set it to one of off, password, oidc",
                 id="auth-unknown-mode"),
    pytest.param("RAGTUNE_AUTH", "", get_settings, "RAGTUNE_AUTH='': set it to one of", id="auth-empty"),
    pytest.param("RAGTUNE_AUTH_HOURS", "forever", get_settings, "RAGTUNE_AUTH_HOURS='forever': set it to how many "
                 "hours", id="auth-hours-word"),
    pytest.param("RAGTUNE_AUTH_HOURS", "0", get_settings, "RAGTUNE_AUTH_HOURS='0'", id="auth-hours-zero"),
    pytest.param("RAGTUNE_AUTH_HOURS", "nan", get_settings, "RAGTUNE_AUTH_HOURS='nan'", id="auth-hours-nan"),
    pytest.param("RAGTUNE_HEARTBEAT_S", "0", get_settings, "RAGTUNE_HEARTBEAT_S='0': set it to how many seconds",
                 id="heartbeat-zero"),
    pytest.param("RAGTUNE_HEARTBEAT_S", "often", get_settings, "RAGTUNE_HEARTBEAT_S='often'", id="heartbeat-word"),
    pytest.param("RAGTUNE_JOBS", "ray", get_settings, "RAGTUNE_JOBS='ray': set it to local (the default), or to a Ray "
                 "cluster's address: ray://HOST:PORT", id="jobs-no-address"),
    pytest.param("RAGTUNE_JOBS", "ray://head", get_settings, "RAGTUNE_JOBS='ray://head'", id="jobs-no-port"),
    pytest.param("RAGTUNE_JOBS", "http://head:8265/../x", get_settings, "RAGTUNE_JOBS=", id="jobs-path"),
]


@pytest.mark.parametrize("variable, value, read, message", BAD_ENVIRONMENT)
def test_a_bad_environment_variable_names_itself_and_the_fix(monkeypatch, variable, value, read, message):
    monkeypatch.setenv(variable, value)
    refused(read, message)


def test_a_database_url_that_cannot_be_used_is_a_store_error_that_hides_its_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://lab:s3cret@db.example/lab")
    message = refused(current_database, "DATABASE_URL is not a database URL this lab can use", StoreError)
    assert "s3cret" not in message
    monkeypatch.setenv("DATABASE_URL", "lab.db")
    refused(current_database, "Could not parse SQLAlchemy URL", StoreError)


def test_a_postgresql_server_that_does_not_answer_is_named_without_its_password(monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://lab:s3cret@127.0.0.1:{port}/lab")
    message = refused(current_database, f"Database error on postgresql+psycopg://lab:***@127.0.0.1:{port}/lab: "
                      "connection failed", StoreError)
    assert "s3cret" not in message


def test_a_data_dir_that_is_a_file_is_a_store_error(monkeypatch, tmp_path):
    (tmp_path / "data-file").write_text("not a folder")
    monkeypatch.setenv("RAGTUNE_DATA_DIR", str(tmp_path / "data-file"))
    refused(current_database, "Cannot make the database's folder", StoreError)
