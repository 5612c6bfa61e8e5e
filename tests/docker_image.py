"""A docker image for the tests, built with no registry to pull a base from.

The root filesystem is this interpreter (at the path it has here), its standard library,
the ``mcp`` package with every distribution it requires, and the shared libraries all of
them load (as ``ldd`` finds them), streamed as a tarball into ``docker import``. The
image is tagged with a hash of what went in, so a later session finds it already built.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

#: Bump to rebuild images made by an older version of this module.
BUILDER_VERSION = "1"
SERVER = Path(__file__).parent / "servers" / "container_server.py"
SITE = "srv/site"
SCRIPT = "srv/server.py"
HASH_LABEL = "mcp-integrations.test-image"
REPOSITORY = "mcp-integrations-test"
#: Parts of the standard library that an MCP server on stdio never imports.
SKIPPED_STDLIB = frozenset(
    {
        "__phello__",
        "dist-packages",
        "ensurepip",
        "idlelib",
        "lib2to3",
        "site-packages",
        "test",
        "tkinter",
        "turtledemo",
    }
)
_LIBRARY = re.compile(r"(?:=>\s+|^\s+)(/\S+)\s+\(0x")


@dataclass(frozen=True)
class ServerImage:
    """A built image: its tag, and the interpreter to run in it for commands of one's own."""

    tag: str
    python: str
    digest: str

    def server_command(self) -> list[str]:
        return [self.python, "/" + SCRIPT]


def _closure(name: str) -> list[metadata.Distribution]:
    """``name`` and every distribution it requires, as installed here, with the extras
    each requirement asks for (``pyjwt[crypto]``)."""
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo: list[tuple[str, str]] = [(name, "")]
    while todo:
        wanted, extra = todo.pop()
        dist = metadata.distribution(wanted)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if (key, extra) in done:
            continue
        done.add((key, extra))
        found[key] = dist
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                todo.append((requirement.name, ""))
                todo.extend((requirement.name, e) for e in requirement.extras)
    return list(found.values())


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` (or ``root`` itself), without optimized bytecode."""
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(dirs)
        for name in sorted(files):
            if not name.endswith((".opt-1.pyc", ".opt-2.pyc")):
                yield Path(folder, name)


def _site_files() -> dict[str, Path]:
    """Each file of the ``mcp`` closure, by its path in the image."""
    files: dict[str, Path] = {}
    for dist in _closure("mcp"):
        base = Path(str(dist.locate_file("")))
        roots: set[Path] = set()
        for entry in dist.files or []:
            parts = entry.parts
            if parts[0] == "..":
                continue  # console scripts, outside site-packages
            single = len(parts) == 1 or parts[0] == "__pycache__"
            roots.add(base / entry if single else base / parts[0])
        for root in sorted(roots):
            for path in _walk(root):
                files[f"{SITE}/{path.relative_to(base)}"] = path
    return files


def _stdlib_files() -> dict[str, Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files: dict[str, Path] = {}
    for child in sorted(stdlib.iterdir()):
        if child.name in SKIPPED_STDLIB or child.name.startswith("config-"):
            continue
        for path in _walk(child):
            if "_tkinter" not in path.name:
                files[str(path).lstrip("/")] = path
    return files


def _python() -> Path:
    return Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))


def _contents() -> dict[str, Path]:
    python = _python()
    return {
        str(python).lstrip("/"): python,
        SCRIPT: SERVER,
        **_stdlib_files(),
        **_site_files(),
    }


def _digest(contents: dict[str, Path]) -> str:
    """A hash of what the image holds: names, sizes and modification times."""
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    for name in sorted(contents):
        stat = contents[name].stat()
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update(SERVER.read_bytes())
    return digest.hexdigest()


def _libraries(binaries: list[Path]) -> dict[str, Path]:
    """The shared libraries ``binaries`` load, at the paths the loader finds them here."""
    found: dict[str, Path] = {}
    for start in range(0, len(binaries), 200):
        chunk = [str(b) for b in binaries[start : start + 200]]
        result = subprocess.run(["ldd", *chunk], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            match = _LIBRARY.search(line)
            if match:
                found[match.group(1).lstrip("/")] = Path(match.group(1))
    return found


def _write_tar(stream: tarfile.TarFile, contents: dict[str, Path]) -> None:
    made: set[str] = set()
    for name in sorted(contents):
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder not in made:
                made.add(folder)
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                stream.addfile(info)
        stream.add(str(contents[name]), arcname=name, recursive=False)
    tmp = tarfile.TarInfo("tmp")
    tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
    stream.addfile(tmp)


def _exists(tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return result.returncode == 0


def server_image() -> ServerImage:
    """The test image, built unless an image with the same content hash is there."""
    contents = _contents()
    digest = _digest(contents)
    python = str(_python())
    image = ServerImage(f"{REPOSITORY}:{digest[:16]}", python, digest)
    if _exists(image.tag):
        return image
    binaries = [p for p in contents.values() if p.suffix == ".so" or p == Path(python)]
    contents |= _libraries(binaries)
    changes = [
        f"LABEL {HASH_LABEL}={digest}",
        f"ENV PYTHONPATH=/{SITE}",
        "ENV PYTHONDONTWRITEBYTECODE=1",
        f'CMD ["{python}", "/{SCRIPT}"]',
    ]
    command = ["docker", "import", *(f"--change={c}" for c in changes), "-", image.tag]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as importer:
        assert importer.stdin is not None
        with tarfile.open(fileobj=importer.stdin, mode="w|", dereference=True) as stream:
            _write_tar(stream, contents)
        importer.stdin.close()
        if importer.wait() != 0:
            raise RuntimeError(f"docker import failed with code {importer.returncode}")
    return image
