"""`python -m loadtest` is one typer app: every subcommand has --help, and flags read as flags."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from loadtest.__main__ import app
from model_server.builders.__main__ import app as builders_app

MINE = ["run", "demo", "tradeoffs", "size-study", "cpu-breakdown"]


@pytest.mark.parametrize("command", [[], *([c] for c in MINE)])
def test_every_command_has_help_and_flags_take_no_value(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "<bool>" not in result.output  # a flag shown as if it took a value


@pytest.mark.parametrize(
    ("command", "flag"), [("run", "--no-slo"), ("tradeoffs", "--quick"), ("size-study", "--quick")]
)
def test_a_flag_is_listed_bare(command, flag):
    output = CliRunner().invoke(app, [command, "--help"]).output
    assert re.search(rf"^\s+{flag}\s{{2,}}\S", output, re.MULTILINE), output


def test_the_model_builder_is_a_typer_command_too():
    runner = CliRunner()
    result = runner.invoke(builders_app, ["--help"])
    assert result.exit_code == 0 and "--only" in result.output and "<bool>" not in result.output
    wrong = runner.invoke(builders_app, ["--only", "nope"])
    assert wrong.exit_code == 2 and "'nope' is not one of" in wrong.output
