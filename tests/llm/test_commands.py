import json

from core.cli import main


def test_ask_prints_the_answer_with_tokens_latency_and_cost(tiny_model_dir, capsys):
    assert main(["ask", f"local:{tiny_model_dir}?dtype=float32", "Capital of France?", "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    assert "local:tiny-chat · " in out and " in / " in out and " out tokens · " in out and "$" in out


def test_ask_as_json(tiny_model_dir, capsys):
    assert main(["ask", f"local:{tiny_model_dir}", "hi", "--max-new-tokens", "3", "--json"]) == 0
    completion = json.loads(capsys.readouterr().out)
    assert completion["model"] == "local:tiny-chat" and completion["output_tokens"] <= 3
    assert set(completion) >= {"text", "input_tokens", "latency_ms", "cost_usd", "warnings"}


def test_ask_reports_bad_input_in_one_line(capsys):
    assert main(["ask", "gemini:pro", "hi"]) == 2
    assert capsys.readouterr().err.startswith("error: Unknown backend 'gemini'")
    assert main(["ask", "local", "  "]) == 2
    assert "question is empty" in capsys.readouterr().err


def test_ask_names_a_missing_knowledge_base(capsys):
    assert main(["ask", "local?kb=handbook", "hi"]) == 2
    assert "No knowledge base named 'handbook'" in capsys.readouterr().err


def test_ask_names_the_missing_key(capsys):
    assert main(["ask", "anthropic", "hi"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
