"""The server README's configuration table lists every server setting, so the docs cannot drift from the code."""

from pathlib import Path

from model_server.config import Settings

README = (Path(__file__).resolve().parents[2] / "model_server" / "README.md").read_text()


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        row = f"| `--{name.replace('_', '-')}` | `MODEL_SERVER_{name.upper()}` |"
        assert row in README, f"model_server/README.md configuration table lacks {row}"
