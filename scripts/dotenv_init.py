"""Write `.env` for `make run` on first start, so every process reads one configuration.

`make run` and any `.venv/bin/python manage.py ...` in another shell then share the same
SECRET_KEY (invite links and sessions made in one are valid in the other), PUBLIC_BASE_URL
and port. Settings read `.env` (django-environ); the environment still wins over it.

Usage: python scripts/dotenv_init.py [PORT]   (prints the port to serve on)
A given PORT different from the one in `.env` rewrites PORT and PUBLIC_BASE_URL there.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

DOTENV = Path(__file__).resolve().parent.parent / ".env"
DEFAULT_PORT = "8000"


def development_values(port: str) -> dict[str, str]:
    return {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORT": port,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SANDBOX_ENABLED": "true",
        # The demo shop receives its postbacks on loopback: allowed here, never in production.
        "POSTBACK_ALLOW_PRIVATE": "true",
    }


def read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write(path: Path, values: dict[str, str]) -> None:
    lines = ["# Written by `make run` for local development; see .env.example for every variable."]
    lines += [f"{key}={value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def main(argv: list[str]) -> str:
    asked = argv[1] if len(argv) > 1 and argv[1] else ""
    if not DOTENV.exists():
        write(DOTENV, development_values(asked or DEFAULT_PORT))
        print(f"Wrote {DOTENV.name} (development values, a new SECRET_KEY)", file=sys.stderr)
        return asked or DEFAULT_PORT
    values = read(DOTENV)
    port = values.get("PORT", DEFAULT_PORT)
    if asked and asked != port:
        values["PORT"], values["PUBLIC_BASE_URL"] = asked, f"http://127.0.0.1:{asked}"
        write(DOTENV, values)
        print(f"{DOTENV.name}: port {port} -> {asked}", file=sys.stderr)
        port = asked
    return port


if __name__ == "__main__":
    print(main(sys.argv))
