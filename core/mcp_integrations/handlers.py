"""What each client verb of ``mcp-integrations`` does: ask the hub over its HTTP API (never
its store) and show the answer; each returns the verb's exit code.

Exit codes: 0 done; 1 the hub said no; 2 bad usage; 3 the hub cannot be reached.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.status import Status as Spinner
from rich.text import Text

from mcp_integrations import envfile
from mcp_integrations.client import JSON, HubClient, HubRefused, ServerEvent, default_token_file
from mcp_integrations.tables import (
    Output,
    call_text,
    event_line,
    integrations_table,
    status_grid,
    status_text,
    tools_table,
)
from mcp_integrations.tokens import TOKEN_ENV

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
#: Body keys that have flags of their own, so that ``--option`` cannot say them twice.
OWN_FLAGS = {"source": "SOURCE", "id": "--id", "env": "--env or --env-file"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Handler = Callable[[argparse.Namespace, HubClient, Output], int]


class UsageError(Exception):
    """Input the verb cannot use (an unreadable file, a clash of flags): exit 2."""


def json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _printable(line: str) -> str:
    """A server's log line made safe for a terminal: control characters (escape sequences
    that could move the cursor or retitle the window) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", line)


def hint(exc: HubRefused, integration_id: str | None = None) -> str | None:
    """What to do about a refusal, where it is obvious."""
    target = integration_id or "ID"
    if exc.status == 401:
        return f"set {TOKEN_ENV} to a token the hub accepts (or put it in {default_token_file()})"
    if exc.code == "forbidden":
        return (
            "this needs a token with a higher role (operator or admin); the hub's admin makes "
            "one with: mcp-integrations token --role ROLE"
        )
    if exc.status == 421:
        return (
            "use the hub's own address (e.g. http://127.0.0.1:4200) or start the hub with "
            "--allowed-host NAME"
        )
    if exc.code == "already_installed":
        return "remove it first (mcp-integrations rm ID) or install it under another --id"
    if exc.code == "not_running":
        return f"start it first: mcp-integrations start {target}"
    if exc.code == "missing_env":
        return f"mcp-integrations rm {target}, then install it again with --env NAME=VALUE"
    if exc.code == "start_failed":
        return f"its log: mcp-integrations logs {target}"
    return None


def refused(out: Output, exc: HubRefused, integration_id: str | None = None) -> None:
    out.error(str(exc), hint(exc, integration_id))


def ls(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    answer = hub.list()
    if out.as_json:
        out.json(answer)
    elif integrations := answer.get("integrations"):
        out.show(integrations_table(integrations))
    else:
        out.note("no integrations installed; add one with: mcp-integrations install SOURCE")
    return 0


def status(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    answer = hub.status(args.id)
    if out.as_json:
        out.json(answer)
    else:
        out.show(status_grid(answer))
    return 0


def tools(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    answer = hub.tools(args.id)
    if out.as_json:
        out.json(answer)
    elif listed := answer.get("tools"):
        out.show(tools_table(listed))
    else:
        out.note(f"{args.id} has listed no tools (they are listed when it starts)")
    return 0


def each(action: str) -> Handler:
    """``start``, ``stop``, ``restart`` or ``rm`` of each id in turn: every one is tried and
    reported; any refusal makes the exit code 1."""

    def handler(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
        call: Callable[[str], JSON] = getattr(hub, action)
        failed = False
        for integration_id in args.ids:
            try:
                answer = call(integration_id)
            except HubRefused as exc:
                refused(out, exc, integration_id)
                failed = True
                continue
            if out.as_json:
                out.json(answer)
            elif answer.get("removed"):
                out.line(f"{integration_id}: removed")
            else:
                line = status_text(str(answer.get("status")))
                if answer.get("pid") is not None:
                    line.append(f" (pid {answer['pid']})")
                out.line(Text.assemble(f"{integration_id}: ", line))
        return EXIT_REFUSED if failed else 0

    return handler


def _fits(form: JSON, source: str) -> bool:
    """A connector's form fits its name; a prefixed source's (``pypi:``), what starts with
    its prefix."""
    prefix = form.get("prefix")
    if not isinstance(prefix, str):
        return False
    if form.get("source_field"):
        return bool(prefix) and source.startswith(prefix)
    return source == prefix


def form_for(forms: Sequence[JSON], source: str) -> JSON | None:
    """The install form of ``source`` (the longest prefix wins), if any."""
    fitting = [form for form in forms if _fits(form, source)]
    return max(fitting, key=lambda form: len(form["prefix"]), default=None)


def _prompt_missing(hub: HubClient, out: Output, source: str, env: dict[str, str]) -> None:
    """Ask at the terminal for each required variable of the source's form not given yet
    (a secret one without echo); an empty answer leaves it to the hub to refuse."""
    try:
        forms = hub.sources().get("sources") or []
    except HubRefused:
        return
    form = form_for([f for f in forms if isinstance(f, dict)], source)
    for field in form.get("fields", []) if form else []:
        name = field.get("name")
        if not (field.get("env") and field.get("required")) or name in env:
            continue
        about = f" ({field['description']})" if field.get("description") else ""
        try:
            if field.get("secret"):
                value = getpass.getpass(f"{name}{about}: ")
            else:
                out.err.print(f"{name}{about}: ", end="", soft_wrap=True)
                value = input()
        except EOFError:
            return
        if value:
            env[name] = value


class _Progress:
    """Shows an install's events from ``/events``: a spinner on a terminal, plain lines on
    stderr otherwise (the answer itself is printed once the hub gives it)."""

    def __init__(self, out: Output, source: str, integration_id: str | None) -> None:
        self.out, self.source, self.id = out, source, integration_id
        self.spinner: Spinner | None = None
        if out.err.is_terminal:
            self.spinner = out.err.status(f"installing {source}")

    def heard(self, event: ServerEvent) -> None:
        try:
            data = json.loads(event.data)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        if event.kind == "install" and data.get("source") == self.source:
            if self.id not in (None, data.get("id")):
                return
            self.id = data.get("id")
            text = f"{self.id}: {data.get('phase')} ({self.source})"
            self._tell(text, quiet=data.get("phase") != "installing")
        elif event.kind == "status" and self.id is not None and data.get("id") == self.id:
            self._tell(f"{self.id}: {data.get('to')}", quiet=False)

    def _tell(self, text: str, *, quiet: bool) -> None:
        if self.spinner is not None:
            self.spinner.update(text)
        elif not quiet:
            self.out.note(text)


def install(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    env: dict[str, str] = {}
    try:
        for path in args.env_files:
            env |= envfile.read(path)
    except envfile.EnvFileError as exc:
        raise UsageError(str(exc)) from None
    env |= dict(args.env)
    options = dict(args.options)
    for key, flag in OWN_FLAGS.items():
        if key in options:
            raise UsageError(f"--option {key}=... is not taken: use {flag}")
    if sys.stdin.isatty():
        _prompt_missing(hub, out, args.source, env)
    body: JSON = {"source": args.source, **options}
    if args.id:
        body["id"] = args.id
    if env:
        body["env"] = env
    progress = _Progress(out, args.source, args.id)
    with ExitStack() as stack:
        if progress.spinner is not None:
            stack.enter_context(progress.spinner)
        answer = hub.install(body, progress.heard)
    if out.as_json:
        out.json(answer)
    else:
        status = f", {answer['status']}" if answer.get("status") else ""
        out.line(f"{answer.get('id')}: installed{status}")
    return 0


def _read_document(path: Path) -> JSON:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} must hold a JSON object with 'mcpServers'")
    return document


def import_servers(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    answer = hub.import_servers(_read_document(args.file))
    results = [r for r in answer.get("results") or [] if isinstance(r, dict)]
    if out.as_json:
        out.json(answer)
        return EXIT_REFUSED if any(not r.get("installed") for r in results) else 0
    for result in results:
        if result.get("installed"):
            status = f", {result['status']}" if result.get("status") else ""
            out.line(f"{result.get('id')}: installed{status}")
        else:
            error = result.get("error") or {}
            out.error(f"{result.get('id')}: {error.get('message')} ({error.get('code')})")
    return EXIT_REFUSED if any(not r.get("installed") for r in results) else 0


def call(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    arguments = dict(args.arguments or {}) | dict(args.args)
    result = hub.call(args.id, args.tool, arguments, args.timeout)
    failed = result.get("isError") is True
    if out.as_json:
        out.json(result)
    elif failed:
        out.error(f"{call_text(result) or 'no detail'} (the tool {args.tool} reported an error)")
    else:
        out.line(call_text(result))
    return EXIT_REFUSED if failed else 0


def logs(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    if not args.follow:
        answer = hub.logs(args.id, args.tail)
        if out.as_json:
            out.json(answer)
            return 0
        for line in answer.get("lines") or []:
            out.raw_line(_printable(str(line)))
        return 0
    for line in hub.follow_logs(args.id, args.tail):
        if out.as_json:
            out.json_line({"id": args.id, "line": line})
        else:
            out.raw_line(_printable(line))
    out.error(f"the hub at {hub.url} ended the log stream (did it stop?)")
    return EXIT_UNREACHABLE


def events(args: argparse.Namespace, hub: HubClient, out: Output) -> int:
    for event in hub.events():
        if out.as_json:
            out.json_line({"event": event.kind, "data": json_or_text(event.data)})
        else:
            out.line(event_line(event))
    out.error(f"the hub at {hub.url} ended the event stream (did it stop?)")
    return EXIT_UNREACHABLE
