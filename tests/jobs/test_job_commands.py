"""`train`, `jobs` and `adapter` from the shell, with a real worker on the tiny model."""

from __future__ import annotations

import json

from core.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_wait_list_show_logs_and_adapter_list(capsys, dataset, tiny_model_dir):
    code, out, err = run(capsys, "train", dataset.name, "--name", "cli-adapter", "--base", str(tiny_model_dir),
                         "--max-steps", "4", "--batch-size", "4", "--max-length", "64", "--eval-every", "2",
                         "--precision", "fp32", "--device", "cpu", "--wait")
    assert code == 0, err
    assert out.strip() == "1"
    assert "train_loss=" in err and "adapter cli-adapter" in err
    code, out, _ = run(capsys, "jobs", "list", "--json")
    [job] = json.loads(out)
    assert (job["status"], job["adapter"], job["progress"]) == ("succeeded", "cli-adapter", 1.0)
    assert {"train_loss", "validation_loss", "tokens_per_s"} <= set(job["last_metrics"])
    code, out, _ = run(capsys, "jobs", "show", "1", "--json")
    assert json.loads(out)["config"]["training"]["max_steps"] == 4
    code, out, _ = run(capsys, "jobs", "logs", "1", "--tail", "1")
    assert "succeeded" in out
    code, out, _ = run(capsys, "adapter", "list")
    assert out.startswith("cli-adapter\t")
    code, _, err = run(capsys, "jobs", "resume", "1")
    assert code == 2 and "only cancelled, interrupted, failed jobs can be resumed" in err


def test_bad_input_is_a_message_and_exit_code_2(capsys, dataset, tiny_model_dir):
    code, _, err = run(capsys, "train", "no-such-dataset")
    assert code == 2 and "no-such-dataset" in err
    code, _, err = run(capsys, "train", dataset.name, "--base", "/no/such/model")
    assert code == 2 and "outside the folders the lab may read" in err
    code, _, err = run(capsys, "train", dataset.name, "--lr", "5")
    assert code == 2 and "learning_rate" in err
    code, _, err = run(capsys, "jobs", "cancel", "42")
    assert code == 2 and "No job 42" in err


def test_an_unwritable_adapters_folder_is_refused_before_queueing(capsys, dataset, tiny_model_dir, tmp_path,
                                                                 monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot make folders inside a file
    monkeypatch.setenv("RAGTUNE_MODELS_DIR", str(blocker / "models"))
    code, _, err = run(capsys, "train", dataset.name, "--base", str(tiny_model_dir))
    assert code == 2 and "Cannot write to" in err and "RAGTUNE_MODELS_DIR" in err
    code, out, _ = run(capsys, "jobs", "list")
    assert out == ""
