#!/usr/bin/env python3
"""Fills an scdoc template with sections of a Markdown document.

    md2scd.py TEMPLATE MARKDOWN OUTPUT

A template line `@MD HEADING@` is replaced by the body of the Markdown section
`## HEADING` (up to the next `## `), converted to scdoc; every other line is
copied. prism.conf(5) is made this way from docs/configuration.md, so the
keys are described in one place and a key added there reaches the manual
page without a second edit (tests/integration/test_man.py checks that the
page names every key relay/base/config.c reads).

Conversion: paragraphs, `- ` and `1. ` lists (continuation lines indented),
fenced code blocks (literal blocks), `### ` headings (subsections) and tables.
A table row becomes an entry: its first cell in bold, the middle cells as
"(header: value; ...)", the last cell indented below it, which reads better
in a terminal than a table of long cells. Inline code becomes bold, links
their text; scdoc's special characters are escaped. Anything else (quotes,
HTML, deeper headings) is an error, so the page never silently loses text.
"""
import re
import sys


def fail(msg):
    sys.exit(f"md2scd: {msg}")


def escape(text):
    """scdoc-escapes plain text: backslash, bold and underline markers."""
    return re.sub(r"([\\*_])", r"\\\1", text)


def inline(text, where):
    """Converts one line of Markdown inline markup to scdoc."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        if i % 2:  # inside backticks
            out.append(f"*{escape(part)}*" if part.strip() else escape(part))
            continue
        part = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part)  # [text](url) -> text
        part = re.sub(r"<(https?://[^>]*)>", r"\1", part)
        out.append(escape(part))
    line = "".join(out)
    # A line starting with "." would reach roff as a request (scdoc passes
    # it through); the others would start a table or a comment in scdoc.
    if line.startswith("."):
        fail(f"{where}: a line may not start with '.': {text}")
    if re.match(r"[|:;]", line):
        line = "\\" + line
    return line


def cells(row, where):
    """The cells of a Markdown table row; `|` inside backticks is text."""
    row = row.strip()
    if not (row.startswith("|") and row.endswith("|")):
        fail(f"{where}: a table row must start and end with |")
    out, cur, code = [], "", False
    for ch in row[1:-1]:
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def table(rows, where):
    header = cells(rows[0], where)
    if len(rows) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", rows[1].strip()):
        fail(f"{where}: a table needs a header and a |---| line")
    out = []
    for row in rows[2:]:
        c = cells(row, where)
        if len(c) != len(header):
            fail(f"{where}: row has {len(c)} cells, the header {len(header)}: {row}")
        term = inline(c[0], where)
        if not term.startswith("*"):
            term = f"*{term}*"
        meta = "; ".join(f"{escape(h)}: {inline(v, where)}" for h, v in zip(header[1:-1], c[1:-1]))
        out.append(f"{term} ({meta})" if meta else term)
        out.append("\t" + inline(c[-1], where))
        out.append("")
    return out


def convert(lines, where):
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        here = f"{where}+{i + 1}"
        if line.startswith("```"):
            out.append("```")
            i += 1
            while i < len(lines) and lines[i] != "```":
                out.append(lines[i].replace("\\", "\\\\"))
                i += 1
            if i == len(lines):
                fail(f"{here}: unterminated code block")
            out.append("```")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            out.extend(table(rows, here))
        elif line.startswith("### "):
            out.extend(["", "## " + line[4:].replace("`", ""), ""])
            i += 1
        elif re.match(r"[#>]|<", line):
            fail(f"{here}: unsupported Markdown: {line}")
        elif m := re.match(r"(- |\d+\. )(.*)", line):
            # An item and its indented continuation lines, as one line.
            mark = "- " if m.group(1) == "- " else ". "
            text = [m.group(2)]
            indent = len(m.group(1))
            i += 1
            while i < len(lines) and lines[i].startswith(" " * indent) and lines[i].strip():
                text.append(lines[i].strip())
                i += 1
            out.append(mark + inline(" ".join(text), here))
        elif line.strip():
            # A paragraph, as one line: scdoc joins them anyway, and no
            # wrapped line can then start with a character roff or scdoc
            # would take as markup.
            text = []
            while i < len(lines) and lines[i].strip() and not re.match(r"```|\||#|- |\d+\. ", lines[i]):
                text.append(lines[i].strip())
                i += 1
            out.append(inline(" ".join(text), here))
        else:
            out.append("")
            i += 1
    while out and out[-1] == "":
        out.pop()
    return out


def sections(markdown_path):
    """{heading: [lines]} of the `## ` sections of a Markdown file."""
    found, name = {}, None
    with open(markdown_path, encoding="utf-8") as f:
        for n, line in enumerate(f.read().split("\n"), 1):
            if line.startswith("## "):
                name = line[3:].strip()
                found[name] = (n, [])
            elif line.startswith("# "):
                name = None
            elif name is not None:
                found[name][1].append(line)
    return found


def main():
    if len(sys.argv) != 4:
        fail("usage: md2scd.py TEMPLATE MARKDOWN OUTPUT")
    template, markdown, output = sys.argv[1:]
    secs = sections(markdown)
    out = []
    with open(template, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            m = re.fullmatch(r"@MD (.+)@", line)
            if m is None:
                out.append(line)
                continue
            if m.group(1) not in secs:
                fail(f"{markdown} has no section '## {m.group(1)}' ({template})")
            start, body = secs[m.group(1)]
            out.extend(convert(body, f"{markdown}:{start}"))
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
