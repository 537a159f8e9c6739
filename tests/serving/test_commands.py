"""`python -m core serve` and `python -m core server status|release|stop`."""

import socket

import pytest

from core.cli import main
from core.errors import InvalidInputError
from core.serving.lifecycle import running_server


def test_status_release_and_stop(serve, tiny_spec, capsys):
    assert main(["server", "status"]) == 1
    assert "No model server runs" in capsys.readouterr().out
    record = serve()
    assert main(["ask", tiny_spec, "hi", "--max-new-tokens", "4"]) == 0  # the CLI uses the running server
    assert main(["server", "status"]) == 0
    status = capsys.readouterr().out
    assert f"{record.url}/v1" in status and "1 requests in 1 batches" in status and "tiny-chat" in status
    assert main(["server", "release"]) == 0
    assert "Released 1 model(s)" in capsys.readouterr().out
    assert main(["server", "stop"]) == 0
    assert f"Stopped the model server at {record.url}" in capsys.readouterr().out
    assert running_server() is None


def test_a_taken_port_is_a_clear_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 2
    assert "Cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_a_memory_budget_must_be_positive(capsys):
    assert main(["serve", "--memory-gb", "0"]) == 2
    assert "--memory-gb must be more than 0" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_the_model_server_listens_on_loopback_only(host):
    from core.serving.server import ServerOptions

    with pytest.raises(InvalidInputError, match=f"listens on this machine only .*not on '{host}'"):
        ServerOptions(host=host)
    loopback = ["127.0.0.1", "::1", "localhost"]
    assert [ServerOptions(host=address).host for address in loopback] == loopback
