"""A merchant's empty projects for the install test: a fresh venv, a fresh `npm init -y`.

Each runs the docs' commands as a merchant would paste them (`bash -c`), with no network
but loopback: pip may not read any index (`PIP_NO_INDEX`), and npm's registry is a closed
loopback port, so a command that needed a registry fails instead of quietly using one.

The wheel's dependencies (httpx, standardwebhooks and theirs) would come from PyPI on a
merchant's machine. Here they come from uv's cache at the versions the gateway's uv.lock
pins (`pylock.toml` export, installed offline) before the docs' `pip install` runs, so what
that command fetches from the gateway is the SDK itself and nothing else.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.sdk.gateway import ROOT, SDK_PY, SDK_TS

UV = ROOT / ".uv" / "bin" / "uv"
# A port nothing listens on: any registry request fails at once.
CLOSED_REGISTRY = "http://127.0.0.1:9/"
SNIPPET_RE = re.compile(
    r'<!-- snippet: (?P<name>[\w-]+) -->\s*<div class="highlight">(?P<code>.*?)</div>', re.S
)
TAG_RE = re.compile(r"<[^>]+>")


def served_snippets(page_html: str) -> dict[str, str]:
    """Every marked code block of a served docs page, as the reader's copy button gives it."""
    return {
        match["name"]: html.unescape(TAG_RE.sub("", match["code"])).strip()
        for match in SNIPPET_RE.finditer(page_html)
    }


def _run(
    command, *, cwd: Path, env: dict[str, str], input: str | None = None, shell=False, check=True
):
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        input=input,
        shell=shell,
        executable="/bin/bash" if shell else None,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0 or not check, (
        f"{command} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
        f"\n--- stderr\n{done.stderr[-4000:]}"
    )
    return done


def _sdk_dependency_closure() -> set[str]:
    """The SDK's runtime dependencies and theirs, by the gateway's uv.lock."""
    project = tomllib.loads((SDK_PY / "pyproject.toml").read_text())["project"]
    lock = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    wanted = [re.split(r"[<>=!~;\s\[]", spec, maxsplit=1)[0] for spec in project["dependencies"]]
    pending = [name.lower().replace("_", "-") for name in wanted]
    found: set[str] = set()
    while pending:
        name = pending.pop()
        if name in found or name not in lock:
            continue  # not in the lock: a dependency for other Pythons (typing_extensions < 3.11)
        found.add(name)
        pending += [d["name"] for d in lock[name].get("dependencies", [])]
    return found


def _pylock_subset(names: set[str], out: Path) -> Path:
    full = subprocess.run(
        [str(UV), "export", "--locked", "--all-groups", "--no-emit-project", "--format",
         "pylock.toml", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    head, *blocks = full.split("\n[[packages]]\n")
    kept = [b for b in blocks if re.search(r'^name = "([^"]+)"', b)[1] in names]
    assert {re.search(r'^name = "([^"]+)"', b)[1] for b in kept} == names
    out.write_text(head + "".join("\n[[packages]]\n" + b for b in kept))
    return out


class PythonShop:
    """A merchant's fresh virtualenv and project folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.venv = folder / ".venv"
        folder.mkdir()
        _run([sys.executable, "-m", "venv", str(self.venv)], cwd=folder, env=self._env())
        lock = _pylock_subset(_sdk_dependency_closure(), folder.parent / "pylock.sdk-deps.toml")
        _run(
            [str(UV), "pip", "install", "--offline", "--quiet", "--python",
             str(self.venv / "bin" / "python"), "-r", str(lock)],
            cwd=folder, env=self._env(),
        )  # fmt: skip

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.update(
            {
                "PATH": f"{self.venv / 'bin'}:{env['PATH']}",  # an activated venv
                "VIRTUAL_ENV": str(self.venv),
                "PIP_NO_INDEX": "1",
                "PIP_CONFIG_FILE": os.devnull,  # none of this machine's pip.conf
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                **extra,
            }
        )
        return env

    def shell(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess:
        return _run(command, cwd=self.folder, env=self._env(), shell=True, check=check)

    def python(self, source: str, *, stdin: str | None = None, **env: str):
        script = self.folder / "script.py"
        script.write_text(source)
        python = str(self.venv / "bin" / "python")
        return _run([python, str(script)], cwd=self.folder, env=self._env(**env), input=stdin)


class NodeShop:
    """A merchant's fresh `npm init -y` project with its own empty npm cache."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()
        self.shell("npm init -y")

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
        env.update(
            {
                "npm_config_registry": CLOSED_REGISTRY,
                "npm_config_cache": str(self.folder.parent / "npm-cache"),
                "npm_config_userconfig": os.devnull,
                "npm_config_audit": "false",
                "npm_config_fund": "false",
                "npm_config_update_notifier": "false",
                **extra,
            }
        )
        return env

    def shell(self, command: str) -> subprocess.CompletedProcess:
        return _run(command, cwd=self.folder, env=self._env(), shell=True)

    def node_module(self, name: str, typescript: str) -> Path:
        """Write a docs TypeScript snippet as an ES module, its types stripped by tsc's API."""
        strip = (
            "const ts = require('typescript');"
            "const src = require('node:fs').readFileSync(0, 'utf8');"
            "process.stdout.write(ts.transpileModule(src, { compilerOptions: {"
            " module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);"
        )
        # typescript is the SDK's devDependency, not the shop's: run it from there.
        done = _run(["node", "-e", strip], cwd=SDK_TS, env=dict(os.environ), input=typescript)
        path = self.folder / name
        path.write_text(done.stdout)
        return path

    def node(self, source: str, *, stdin: str | None = None, **env: str):
        script = self.folder / "script.mjs"
        script.write_text(source)
        return _run(["node", str(script)], cwd=self.folder, env=self._env(**env), input=stdin)

    def installed_package(self) -> dict:
        return json.loads((self.folder / "node_modules/@apaygate/sdk/package.json").read_text())

    def lock_entry(self) -> dict:
        lock = json.loads((self.folder / "package-lock.json").read_text())
        return lock["packages"]["node_modules/@apaygate/sdk"]

    def locked_packages(self) -> list[str]:
        """Every package the lock file installed (the project itself, "", left out)."""
        lock = json.loads((self.folder / "package-lock.json").read_text())
        return sorted(name for name in lock["packages"] if name)


def pay_in_sandbox(wrapper_url: str) -> None:
    """Press Pay on the sandbox's hosted page, as the shopper would."""
    with httpx.Client(follow_redirects=False, timeout=60) as browser:
        redirect = browser.get(wrapper_url)
        assert redirect.status_code == 302, redirect.text[:500]
        pay_url = urljoin(wrapper_url, redirect.headers["Location"])
        page = browser.get(pay_url)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert csrf, f"no CSRF token on {pay_url}"
        # The CSRF cookie is marked Secure; over the test server's http:// send it by hand.
        cookie = "; ".join(part.split(";", 1)[0] for part in page.headers.get_list("set-cookie"))
        browser.cookies.clear()
        done = browser.post(
            pay_url,
            data={"csrfmiddlewaretoken": csrf[1], "outcome": "success"},
            headers={"Cookie": cookie},
        )
        assert done.status_code == 302, done.text[:500]
