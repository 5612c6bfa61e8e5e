"""How the client verbs show the hub's answers: tables and lines for people (colored only
on a terminal), the hub's JSON as it is for scripts."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from mcp_integrations.client import ServerEvent

#: Columns for output that goes to a file or a pipe, so lines are cut by ``cut`` alone.
PIPED_WIDTH = 240
ERROR_CHARS = 60
DESCRIPTION_CHARS = 80
STATUS_STYLES = {
    "running": "green",
    "starting": "cyan",
    "stopping": "cyan",
    "unhealthy": "yellow",
    "crashed": "red",
    "failed": "bold red",
    "stopped": "dim",
}
#: Status fields shown as local times.
TIMES = ("started_at", "next_retry_at", "last_used_at")


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(
        stderr=stderr,
        markup=False,
        emoji=False,
        highlight=False,
        width=PIPED_WIDTH if piped else None,
    )


class Output:
    """Where a verb writes: answers to stdout, errors, hints and progress to stderr."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.out = _console(stderr=False)
        self.err = _console(stderr=True)

    def json(self, data: Any) -> None:
        """The hub's answer as it is, indented."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def json_line(self, data: Any) -> None:
        """One item of a stream, on one line, written at once."""
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def show(self, renderable: RenderableType) -> None:
        """A table; off a terminal without the padding after each line's last cell."""
        if self.out.is_terminal:
            self.out.print(renderable)
            return
        with self.out.capture() as captured:
            self.out.print(renderable)
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
        sys.stdout.flush()

    def line(self, text: str | Text) -> None:
        """A line as it is: never wrapped, cut or read as markup."""
        self.out.print(text, soft_wrap=True)

    def raw_line(self, text: str) -> None:
        """A line of a server's log, as it is, written at once."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def note(self, text: str | Text) -> None:
        """Progress and remarks, on stderr so that stdout stays the answer."""
        self.err.print(text, soft_wrap=True)

    def error(self, message: str, hint: str | None = None) -> None:
        self.err.print(Text.assemble(("error: ", "bold red"), one_line(message)), soft_wrap=True)
        if hint:
            self.err.print(Text.assemble(("hint: ", "yellow"), hint), soft_wrap=True)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with its line breaks folded, cut to ``limit`` characters with an ellipsis."""
    folded = " ".join(text.split())
    if limit is not None and len(folded) > limit:
        return folded[: limit - 1] + "…"
    return folded


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def local_time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def integrations_table(integrations: Iterable[Mapping[str, Any]]) -> Table:
    """``ls``: one row per integration, its last error on one line, cut."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("ID", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    for name in ("PID", "UPTIME", "RESTARTS", "TOOLS"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("LAST ERROR", no_wrap=True, overflow="ellipsis")
    for item in integrations:
        error = item.get("last_error")
        table.add_row(
            str(item.get("id")),
            status_text(str(item.get("status"))),
            _cell(item.get("pid")),
            duration(item.get("uptime_secs")),
            _cell(item.get("restarts")),
            _cell(item.get("tools_count")),
            one_line(error, ERROR_CHARS) if error else "-",
        )
    return table


def _value(key: str, value: Any) -> str | Text:
    if key == "status":
        return status_text(str(value))
    if key == "uptime_secs":
        return duration(value)
    if key in TIMES and isinstance(value, int | float):
        return local_time(value)
    if key == "server_info" and isinstance(value, Mapping):
        return " ".join(str(value[k]) for k in ("name", "version") if value.get(k)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return _cell(value)


def status_grid(status: Mapping[str, Any]) -> Table:
    """``status``: each field the hub sent, by its name (``uptime`` for ``uptime_secs``, as
    it is shown in hours and minutes), in its order."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, value in status.items():
        grid.add_row("uptime" if key == "uptime_secs" else key, _value(key, value))
    return grid


def _arguments(schema: Mapping[str, Any]) -> str:
    """Required arguments by name, the optional ones in brackets after them."""
    properties = schema.get("properties")
    names = list(properties) if isinstance(properties, Mapping) else []
    required = [n for n in schema.get("required") or [] if isinstance(n, str)]
    optional = [f"[{n}]" for n in names if n not in required]
    return " ".join(required + optional) or "-"


def tools_table(tools: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("NAME", no_wrap=True)
    table.add_column("DESCRIPTION")
    table.add_column("ARGUMENTS")
    for tool in tools:
        schema = tool.get("input_schema") or tool.get("inputSchema") or {}
        description = str(tool.get("description") or "").strip().split("\n", 1)[0]
        table.add_row(
            str(tool.get("name")),
            one_line(description, DESCRIPTION_CHARS) or "-",
            _arguments(schema if isinstance(schema, Mapping) else {}),
        )
    return table


def _clock(data: Mapping[str, Any]) -> str:
    stamp = data.get("time")
    when = stamp if isinstance(stamp, int | float) else time.time()
    return time.strftime("%H:%M:%S", time.localtime(when))


def event_line(event: ServerEvent) -> Text:
    """``events``: a status change or an install step, on one line."""
    try:
        data = json.loads(event.data)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Text(f"{event.kind} {one_line(event.data)}")
    line = Text.assemble((_clock(data), "dim"), " ", (str(data.get("id")), "bold"), " ")
    if event.kind == "status":
        line.append_text(status_text(str(data.get("from"))))
        line.append(" -> ")
        line.append_text(status_text(str(data.get("to"))))
        if data.get("pid") is not None:
            line.append(f" pid {data['pid']}")
        if data.get("exit_code") is not None:
            line.append(f" exit {data['exit_code']}")
        if data.get("reason"):
            line.append(f" ({one_line(str(data['reason']), 200)})", style="dim")
    elif event.kind == "install":
        phase = str(data.get("phase"))
        line.append(phase, style="red" if phase == "failed" else "cyan")
        line.append(f" {data.get('source')}")
        if data.get("error"):
            line.append(f": {one_line(str(data['error']), 200)}", style="red")
    else:
        line.append(f"{event.kind} {one_line(event.data, 200)}")
    return line


def _content(item: Mapping[str, Any]) -> str:
    kind = item.get("type")
    if kind == "text":
        return str(item.get("text", ""))
    if kind in ("image", "audio"):
        size = len(str(item.get("data", ""))) * 3 // 4
        return f"[{kind} {item.get('mimeType', '?')}, {size} bytes]"
    if kind == "resource" and isinstance(item.get("resource"), Mapping):
        resource = item["resource"]
        return str(resource.get("text") or f"[resource {resource.get('uri')}]")
    if kind == "resource_link":
        return f"[link {item.get('uri')}]"
    return json.dumps(item, ensure_ascii=False)


def call_text(result: Mapping[str, Any]) -> str:
    """A tool's result for people: its text content, else its structured content."""
    content = result.get("content")
    parts = [_content(i) for i in content if isinstance(i, Mapping)] if content else []
    if not parts and result.get("structuredContent") is not None:
        return json.dumps(result["structuredContent"], indent=2, ensure_ascii=False)
    return "\n".join(parts)
