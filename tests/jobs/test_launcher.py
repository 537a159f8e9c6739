"""The warm launcher: real workers and model servers forked from a real launcher process. A test that stops or
switches off its launcher has one of its own (an environment variable the launcher is keyed on); the others
share the suite's, as the jobs of every other test do."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from core.access import LOCAL_ADMIN
from core.errors import InvalidInputError
from core.finetune.job import submit_training
from core.jobs import queue
from core.jobs.processes import is_worker_alive
from core.launcher import LauncherPaths, launcher_pid
from core.launcher import serving as launcher_serving
from core.llm.adapters import get_adapter
from core.processes import background_environment, live_command, live_name
from core.settings import Settings
from tests.training_fixtures import wait_for, wait_until

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def own_launcher(monkeypatch, request):
    """A launcher key of this test's own (HF_HUB_DISABLE_TELEMETRY is read by the preloaded libraries), stopped
    after it, its files removed."""
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", request.node.name)
    yield
    paths = LauncherPaths.for_environment(background_environment())
    pid = launcher_pid(background_environment())
    if pid and pid > 0:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: launcher_pid(background_environment()) is None, "the launcher to stop")
    for path in (paths.socket, paths.lock, paths.log):
        path.unlink(missing_ok=True)


def serving() -> bool:
    return launcher_serving(background_environment())


def test_once_the_launcher_serves_a_job_is_forked_and_is_a_worker_of_its_own(db, training):
    first = submit_training(db, training("first", max_steps=2), LOCAL_ADMIN)  # starts a launcher if none runs
    wait_for(serving, "the launcher to serve", timeout=300)
    assert wait_until(db, first.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED  # one training slot
    second = submit_training(db, training("second", max_steps=2), LOCAL_ADMIN)
    assert live_name(second.pid) == f"rtjob-{second.id}" and is_worker_alive(second.pid, second.id)
    assert os.getpgid(second.pid) == second.pid and second.pid != launcher_pid(background_environment())
    assert wait_until(db, second.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    assert get_adapter(db, "second").job_id == second.id  # it ran under this test's data dir and store
    log = Path(queue.get_job(db, second.id).log_path).read_text()
    assert f"job {second.id} (train) attempt 1 started in pid {second.pid}" in log and "succeeded" in log
    wait_for(lambda: not is_worker_alive(second.pid, second.id), "the worker to exit")


def test_a_killed_launcher_is_replaced_and_its_job_starts_as_a_plain_process(db, training, own_launcher):
    first = submit_training(db, training("first", max_steps=2), LOCAL_ADMIN)  # no launcher yet: a plain process
    assert "core.jobs.worker" in live_command(first.pid)
    wait_for(serving, "the launcher to serve", timeout=300)
    assert wait_until(db, first.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    killed = launcher_pid(background_environment())
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: launcher_pid(background_environment()) is None, "the launcher to die")
    job = submit_training(db, training("second", max_steps=2), LOCAL_ADMIN)  # its socket is left, refusing
    assert "core.jobs.worker" in live_command(job.pid)
    assert wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    wait_for(lambda: launcher_pid(background_environment()) not in (None, killed), "a new launcher")


def test_switched_off_workers_start_as_plain_processes_and_no_launcher_starts(db, training, own_launcher,
                                                                              monkeypatch):
    monkeypatch.setenv("RAGTUNE_JOB_LAUNCHER", "off")
    job = submit_training(db, training(max_steps=2), LOCAL_ADMIN)
    assert "core.jobs.worker" in live_command(job.pid)
    assert wait_until(db, job.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED
    assert launcher_pid(background_environment()) is None


def test_the_setting_is_on_or_off():
    assert Settings.from_env({}).job_launcher and not Settings.from_env({"RAGTUNE_JOB_LAUNCHER": "OFF"}).job_launcher
    with pytest.raises(InvalidInputError, match="RAGTUNE_JOB_LAUNCHER='sometimes': set it to on or off"):
        Settings.from_env({"RAGTUNE_JOB_LAUNCHER": "sometimes"})


def test_a_launcher_folder_others_may_write_in_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder = tmp_path / f"ragtune-launchers-{os.getuid()}"
    assert LauncherPaths.for_environment({}).socket.parent == folder and folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)  # anyone could put a socket there that runs what they like as this user's job
    assert LauncherPaths.for_environment({}) is None


def test_the_model_server_is_forked_by_a_serving_launcher_and_answers(db, training, tiny_model_dir):
    from core.llm.base import GenerationOptions, Prompt
    from core.llm.spec import parse_spec
    from core.serving.client import ServerBackend
    from core.serving.lifecycle import SERVER_NAME, server_process, start_server, stop_server

    first = submit_training(db, training(max_steps=2), LOCAL_ADMIN)  # starts the launcher
    wait_for(serving, "the launcher to serve", timeout=300)
    record = start_server()
    try:
        assert live_name(record.pid) == SERVER_NAME and server_process(record) is not None
        backend = ServerBackend(record.url, parse_spec(f"local:{tiny_model_dir}?dtype=float32"))
        assert backend.generate(Prompt.ask("hi"), GenerationOptions(max_new_tokens=2)).output_tokens > 0
    finally:
        stop_server()
    assert server_process(record) is None
    assert wait_until(db, first.id, [queue.SUCCEEDED, queue.FAILED]).status == queue.SUCCEEDED


def test_the_launcher_starts_only_the_labs_own_modules():
    from core.jobs.processes import WORKER_MODULE, worker_command
    from core.launcher import LAUNCHABLE, _launchable
    from core.serving.lifecycle import server_command

    assert WORKER_MODULE in LAUNCHABLE
    assert _launchable(worker_command(3), {}) and _launchable(server_command(1), {})
    assert not _launchable(worker_command(3, gpus=2), {})  # accelerate's launcher starts its ranks itself
    assert not _launchable(["/usr/bin/python3", "-m", "core.jobs.worker", "3"], {})  # another Python


def test_on_a_machine_with_cuda_a_launcher_holds_its_lock_idle_and_opens_no_socket(tmp_path, monkeypatch):
    import core.launcher as launcher

    monkeypatch.setattr(launcher, "_has_cuda", lambda: True)
    monkeypatch.setattr(launcher, "_preload", lambda: pytest.fail("nothing is imported to fork from"))
    held_while_idle = []
    monkeypatch.setattr(launcher.time, "sleep", lambda _: held_while_idle.append(
        launcher._lock_holder(tmp_path / "key.lock")))
    assert launcher.serve(tmp_path / "key.sock", idle_s=1) == 0
    assert held_while_idle == [os.getpid()] and not (tmp_path / "key.sock").exists()
    assert launcher._lock_holder(tmp_path / "key.lock") is None  # released as it exits
