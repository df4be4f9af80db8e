#!/usr/bin/env python3
"""mixexplain.py - EXPLAIN QUERY PLAN (SQLite) of every statement the
everyday pages run, taken from the source so the list stays current.

Extracts `static dn_query_t q_x = {"..."}` literals (C string concatenation
included) from the given C files and prints a Markdown list: per statement
its name and plan, with full-table SCANs and temp B-trees flagged. Unbound
`?` parameters are NULL; SQLite's plan does not depend on their values.

Usage: mixexplain.py DB FILE.c...
"""
import re
import sqlite3
import sys

QUERY = re.compile(r'static\s+dn_query_t\s+(\w+)\s*=\s*\{((?:\s*"(?:[^"\\]|\\.)*")+)', re.S)


def main():
    db, files = sys.argv[1], sys.argv[2:]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    for path in files:
        src = open(path, encoding="utf-8").read()
        print("\n`%s`:\n" % path.split("/src/")[-1])
        for name, lits in QUERY.findall(src):
            sql = "".join(bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', lits))
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            try:
                plan = con.execute("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?")).fetchall()
            except sqlite3.Error as e:
                # e.g. the text continues with a macro this regex does not expand
                print("- `%s`: (not explained: %s; the statement is assembled from a macro)" % (name, e))
                continue
            steps = [r[3] for r in plan]
            bad = [s for s in steps if s.startswith("SCAN") and "USING" not in s and "CONSTANT ROW" not in s
                   or "TEMP B-TREE" in s]
            flag = " **⚠ %s**" % "; ".join(bad) if bad else ""
            print("- `%s`%s: %s" % (name, flag, " → ".join(steps)))


if __name__ == "__main__":
    main()
