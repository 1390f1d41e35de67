#!/usr/bin/env python3
"""Check the relative links of the repository's Markdown documentation.

Every ``[text](target)`` link of README.md, docs/*.md, bench/README.md and the
readme/*.md of every addon (loyalty_club, its bridges) whose target is not a URL must name an existing file or
directory (relative to the Markdown file); a ``#anchor`` must be the GitHub-style
anchor of a heading of the target file (or of the file itself for ``(#anchor)``).
Links inside fenced code blocks and inline code are ignored.

Usage: scripts/check_links.py [FILE.md ...]   (default: the files above)
Exits 1 after listing every broken link as ``file:line: target: reason``.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GLOBS = ("README.md", "docs/*.md", "bench/README.md", "*/readme/*.md")
LINK_RE = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING_RE = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE_RE = re.compile(r"^ {0,3}(```|~~~)")
INLINE_CODE_RE = re.compile(r"(`+)(.+?)\1")


def _prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE_RE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield number, line


def github_anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = INLINE_CODE_RE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"[*_~]{1,3}(\S(?:.*?\S)?)[*_~]{1,3}", r"\1", text)  # emphasis
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_anchor_cache = {}


def anchors_of(path):
    if path not in _anchor_cache:
        anchors, seen = set(), {}
        for _number, line in _prose_lines(path.read_text(encoding="utf-8")):
            match = HEADING_RE.match(line)
            if not match:
                continue
            anchor = github_anchor(match.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if not count else f"{anchor}-{count}")
        _anchor_cache[path] = anchors
    return _anchor_cache[path]


def check_file(path):
    problems = []
    for number, raw_line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK_RE.finditer(INLINE_CODE_RE.sub("", raw_line)):
            target = match.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, mailto:...
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}: {target}"
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif anchor:
                if dest.is_dir() or dest.suffix.lower() != ".md":
                    problems.append(f"{where}: anchor on a file that is not Markdown")
                elif anchor.lower() not in anchors_of(dest):
                    problems.append(f"{where}: no heading with this anchor in {dest.relative_to(ROOT)}")
    return problems


def main(argv):
    if argv:
        files = [Path(arg).resolve() for arg in argv]
    else:
        files = sorted({p for pattern in DEFAULT_GLOBS for p in ROOT.glob(pattern)})
    problems = [problem for path in files for problem in check_file(path)]
    for problem in problems:
        print(problem)
    print(f"check_links: {len(files)} files, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
