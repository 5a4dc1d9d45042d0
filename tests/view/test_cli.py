"""view/cli.py: bad configs and ports are one line and exit 2 (serving: tests/view/test_app.py)."""

from __future__ import annotations

import socket

import pytest

from view.cli import main


def test_a_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("view:\n  port: nope\n")
    assert main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "'view.port'" in err


def test_a_port_in_use_is_one_line(tmp_path, capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cfg = tmp_path / "config.yaml"
        cfg.write_text(f"view:\n  port: {port}\n")
        assert main(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--port", "{port}"], ["serve", "--port", "{port}"]])
def test_serve_is_the_default_and_takes_port(tmp_path, capsys, argv):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("view:\n  port: 1\n")  # not the one tried: --port wins
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        args = [a.format(port=port) for a in argv]
        assert main(["--config", str(cfg), *args]) == 2
    assert capsys.readouterr().err.startswith(f"error: cannot listen on 127.0.0.1:{port}")
