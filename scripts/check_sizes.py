#!/usr/bin/env python3
"""Keeps the code base readable by a newcomer: no function in src/ or tools/
longer than 120 lines, no file in src/ longer than 500 lines.

  scripts/check_sizes.py            # exit 1 and list the offenders
  scripts/check_sizes.py --top 10   # also print the 10 longest functions

A function's length is counted from the line of its opening brace to the
line of its closing brace. Functions are found by a small brace-matching
scanner that skips comments, strings and character literals: a '{' opened
directly in a namespace or class scope, whose header has a '(' with no '='
before it, opens a function body. Good enough for this code base's style;
it errs towards finding too few, never raises a false alarm on data tables.
"""
import argparse
import pathlib
import re
import sys

MAX_FUNCTION_LINES = 120
MAX_FILE_LINES = 500
ROOT = pathlib.Path(__file__).resolve().parent.parent


def strip_code(text):
    """Returns text with comments, string and char literals blanked out
    (newlines kept, so line numbers stay right)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and nxt == '"':
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            # A digit separator (1'000) is not a character literal.
            if c == "'" and i > 0 and text[i - 1].isalnum() and nxt.isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """Yields (name, first_line, line_count) for each function body."""
    code = strip_code(text)
    stack = []  # scope kinds: 'ns', 'class', 'fn', 'other'
    header_start = 0
    line = 1
    fn_start = None
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c in ";":
            header_start = i + 1
        elif c == "{":
            header = code[header_start:i]
            enclosing = stack[-1] if stack else "ns"
            flat = " ".join(header.split())
            if enclosing in ("ns", "class"):
                if re.search(r"\bnamespace\b|extern\s*$", flat) or flat == "":
                    kind = "ns" if "namespace" in flat or "extern" in flat else "other"
                elif re.search(r"\b(class|struct|union)\b", flat) and "(" not in flat.split(":")[0]:
                    kind = "class"
                elif "(" in flat and "=" not in flat.split("(")[0] and not re.search(r"\benum\b", flat):
                    kind = "fn"
                else:
                    kind = "other"
            else:
                kind = "other"
            stack.append(kind)
            if kind == "fn":
                name = flat.split("(")[0].split()[-1] if flat.split("(")[0].split() else "?"
                fn_start = (name, line, len(stack))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind = stack.pop()
                if kind == "fn" and fn_start and fn_start[2] == len(stack) + 1:
                    yield fn_start[0], fn_start[1], line - fn_start[1] + 1
                    fn_start = None
            header_start = i + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    problems = []
    all_fns = []
    for folder in ("src", "tools"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".cc", ".h"):
                continue
            text = path.read_text()
            rel = path.relative_to(ROOT)
            lines = text.count("\n")
            if folder == "src" and lines > MAX_FILE_LINES:
                problems.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES} in src/)")
            for name, first, count in functions(text):
                all_fns.append((count, f"{rel}:{first} {name}"))
                if count > MAX_FUNCTION_LINES:
                    problems.append(f"{rel}:{first}: function {name} has {count} lines "
                                    f"(at most {MAX_FUNCTION_LINES})")
    if args.top:
        for count, where in sorted(all_fns, reverse=True)[: args.top]:
            print(f"{count:5d}  {where}")
    for p in problems:
        print(p)
    if problems:
        print(f"check_sizes: {len(problems)} over the limits; split them (docs/architecture.md)")
        return 1
    print(f"check_sizes: {len(all_fns)} functions, all within {MAX_FUNCTION_LINES} lines; "
          f"src/ files within {MAX_FILE_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
