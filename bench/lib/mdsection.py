#!/usr/bin/env python3
"""Rewrite one marked section of BENCHMARKS.md.

usage: mdsection.py FILE SECTION CONTENT_FILE

Replaces the text between `<!-- bench:SECTION:start -->` and
`<!-- bench:SECTION:end -->` with CONTENT_FILE's text, appends the marked
section if absent, and creates FILE (title + intro) if missing. Everything
outside the markers is left as it is.
"""
import os
import sys

INTRO = """# Benchmarks

Measured by `make bench` (bench/run.sh): every workload starts its own
servers on loopback, loads them with wrk on the same machine, and rewrites
its own marked section below. Text outside the `bench:*` markers is
hand-written and kept as it is. Numbers from different machines are not
comparable; compare the ratios within one run.
"""


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, section, content_file = sys.argv[1:]
    start = f"<!-- bench:{section}:start -->"
    end = f"<!-- bench:{section}:end -->"
    with open(content_file, encoding="utf-8") as f:
        content = f.read().strip("\n")
    block = f"{start}\n{content}\n{end}"

    text = INTRO
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
    i = text.find(start)
    j = text.find(end, i + len(start)) if i >= 0 else -1
    if i >= 0 and j >= 0:
        text = text[:i] + block + text[j + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
