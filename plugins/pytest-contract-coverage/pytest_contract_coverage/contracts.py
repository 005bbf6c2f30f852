"""Reading the contracts: the ``## METHOD /path`` sections of ``<contracts_dir>/*.md``.

Each section's documented statuses are the items of its **Output** and **Errors** lists that
start with a backticked code; format problems become ``contract-format`` flags.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_contract_coverage.model import HTTP_METHODS, ContractSection, Flag, normalize_path

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ENDPOINT_RE = re.compile(r"^`?(GET|POST|PUT|PATCH|DELETE)\s+(/\S*?)`?$")
_BLOCK_RE = re.compile(r"^\*\*\s*([A-Za-z][A-Za-z /-]*?)\s*:?\s*\*\*\s*:?\s*$")
_ITEM_RE = re.compile(r"^( {0,1})[-*+]\s+(.*)$")
_STATUS_RE = re.compile(r"^`(\d{3})`")
_BARE_STATUS_RE = re.compile(r"^(\d{3})\b")
_BACKTICKED_RE = re.compile(r"^`([^`]*)`")


def parse_contract_text(text: str, display_name: str) -> tuple[list[ContractSection], list[Flag]]:
    """Parse one contract file; return its endpoint sections and format problems."""
    sections: list[ContractSection] = []
    flags: list[Flag] = []
    current: ContractSection | None = None
    block: str | None = None
    in_fence = False

    def finish(section: ContractSection | None) -> None:
        if section is None:
            return
        where = section.location
        if not section.has_output:
            flags.append(
                Flag("contract-format", where, f"section '{section.key}' has no **Output** list")
            )
        elif not any(kind == "output" for kind in section.statuses.values()):
            flags.append(
                Flag(
                    "contract-format",
                    where,
                    f"**Output** of '{section.key}' lists no status (items start with `200`)",
                )
            )
        sections.append(section)

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        where = f"{display_name}:{lineno}"
        heading = _HEADING_RE.match(line)
        if heading:
            level = len(heading.group(1))
            if level >= 3:
                block = None
                continue
            finish(current)
            current, block = None, None
            if level == 2:
                endpoint = _ENDPOINT_RE.match(heading.group(2))
                if endpoint is None:
                    flags.append(
                        Flag(
                            "contract-format",
                            where,
                            f"malformed endpoint heading '{stripped}' "
                            "(expected '## METHOD /path', METHOD one of "
                            f"{' '.join(HTTP_METHODS)})",
                        )
                    )
                else:
                    current = ContractSection(
                        method=endpoint.group(1),
                        path=normalize_path(endpoint.group(2)),
                        location=where,
                    )
            continue
        if current is None:
            continue
        marker = _BLOCK_RE.match(stripped)
        if marker:
            block = marker.group(1).strip().lower()
            if block == "output":
                current.has_output = True
            continue
        if block not in ("output", "errors"):
            continue
        item = _ITEM_RE.match(line)
        if item is None:
            continue
        content = item.group(2).strip()
        status = _STATUS_RE.match(content)
        if status:
            code = int(status.group(1))
            if not 100 <= code <= 599:
                flags.append(Flag("contract-format", where, f"'{code}' is not an HTTP status code"))
            else:
                current.statuses.setdefault(code, block)
        elif _BARE_STATUS_RE.match(content):
            flags.append(
                Flag(
                    "contract-format",
                    where,
                    f"status must be backticked: '- `{content[:3]}` ...' (got '- {content[:20]}')",
                )
            )
        else:
            other = _BACKTICKED_RE.match(content)
            if other and re.fullmatch(r"\d+", other.group(1)):
                flags.append(
                    Flag(
                        "contract-format",
                        where,
                        f"'{other.group(1)}' is not a 3-digit HTTP status code",
                    )
                )
    finish(current)
    return sections, flags


def load_contracts(
    directory: Path, rootpath: Path
) -> tuple[dict[str, ContractSection], list[Flag]]:
    """Read every ``*.md`` (except ``README.md``) of ``directory``."""
    contracts: dict[str, ContractSection] = {}
    flags: list[Flag] = []
    if not directory.is_dir():
        flags.append(
            Flag("config-error", display_path(directory, rootpath), "contracts_dir does not exist")
        )
        return contracts, flags
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            flags.append(
                Flag("contract-format", display_path(path, rootpath), f"unreadable: {exc}")
            )
            continue
        sections, file_flags = parse_contract_text(text, display_path(path, rootpath))
        flags.extend(file_flags)
        for section in sections:
            first = contracts.get(section.key)
            if first is not None:
                flags.append(
                    Flag(
                        "contract-format",
                        section.location,
                        f"duplicate section '{section.key}' (first at {first.location})",
                    )
                )
                continue
            contracts[section.key] = section
    return contracts, flags


def display_path(path: Path, rootpath: Path) -> str:
    """``path`` relative to the rootdir when it is inside it, for flags and reports."""
    try:
        return path.resolve().relative_to(rootpath.resolve()).as_posix()
    except ValueError:
        return str(path)
