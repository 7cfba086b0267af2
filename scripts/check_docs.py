#!/usr/bin/env python3
"""Checks the documentation against the repository (stdlib only; run by .ci/run).

1. Every relative link in README.md, CHANGELOG.md and docs/**/*.md resolves: the file or folder
   exists, and a `#fragment` names a heading of the target Markdown file (GitHub's anchors:
   lower case, punctuation dropped, spaces to hyphens).
2. Every config key of `ConfigSchema.keys` (Sources/Training/Config/ConfigSchema.swift) has a
   row in docs/configuration.md.

Usage: python3 scripts/check_docs.py [REPO]   (REPO defaults to this script's repository)
Exit status 1 with one line per problem (file:line: what), 0 when all is well.
"""
import re
import sys
from pathlib import Path

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
FENCE = re.compile(r"^\s*(```|~~~)")


def anchors(markdown: Path) -> set:
    """GitHub's heading anchors of a Markdown file (duplicates get -1, -2, …)."""
    seen, result = {}, set()
    in_fence = False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        text = re.sub(r"[`*_]|<[^>]+>", "", match.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(markdown: Path):
    """(line number, target) of every link outside code blocks and inline code."""
    in_fence = False
    for number, line in enumerate(markdown.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for match in LINK.finditer(line):
            yield number, match.group(1)
        for match in REFERENCE.finditer(line):
            yield number, match.group(1)


def check_links(repo: Path) -> list:
    problems = []
    pages = [repo / "README.md", repo / "CHANGELOG.md"] + sorted((repo / "docs").rglob("*.md"))
    for page in (p for p in pages if p.exists()):
        for number, target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # https:, mailto: … (not checked: no network in CI)
            path_part, _, fragment = target.partition("#")
            where = f"{page.relative_to(repo)}:{number}"
            destination = (page.parent / path_part).resolve() if path_part else page
            if path_part.startswith("/"):
                problems.append(f"{where}: {target}: an absolute path; use a relative one")
                continue
            if not destination.exists():
                problems.append(f"{where}: {target}: no such file")
                continue
            if repo.resolve() not in destination.parents and destination != repo.resolve():
                problems.append(f"{where}: {target}: points outside the repository")
                continue
            if fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                problems.append(f"{where}: {target}: no heading '#{fragment}' in {path_part or page.name}")
    return problems


def check_config_keys(repo: Path) -> list:
    schema = repo / "Sources/Training/Config/ConfigSchema.swift"
    page = repo / "docs/configuration.md"
    if not schema.exists() or not page.exists():
        return [f"{p.relative_to(repo)}: missing" for p in (schema, page) if not p.exists()]
    keys = re.findall(r'^\s*\w+\("(\w+)",\s*(?:"(\w+)"|\\)', schema.read_text(encoding="utf-8"), re.MULTILINE)
    seeds = re.findall(r'^\s*seed\("(\w+)"', schema.read_text(encoding="utf-8"), re.MULTILINE)
    paths = [(section, name) for section, name in keys if name] + [(s, "seed") for s in seeds]
    documented, section = set(), None
    for line in page.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## \[(\w+)\]", line)
        if heading:
            section = heading.group(1)
        row = re.match(r"^\|\s*`(\w+)`\s*\|", line)
        if row and section:
            documented.add((section, row.group(1)))
    return [
        f"docs/configuration.md: config key {s}.{n} (ConfigSchema.swift) has no row under ## [{s}]"
        for s, n in paths
        if (s, n) not in documented
    ]


def main() -> int:
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    problems = check_links(repo) + check_config_keys(repo)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
