"""`python -m model_server --help`: run the model server."""

import sys

from pydantic import ValidationError
from pydantic_settings import CliApp, SettingsError

from model_server import logs
from model_server.config import Settings
from model_server.repository import RepositoryError


def main(argv: list[str] | None = None) -> int:
    try:
        settings = CliApp.run(Settings, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        print(f"model_server: invalid configuration: {problems}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"model_server: invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    from model_server.serve import StartupError, serve  # imported late: --help and config errors stay fast

    try:
        serve(settings)
    except (RepositoryError, StartupError) as exc:
        print(f"model_server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
