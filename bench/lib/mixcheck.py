#!/usr/bin/env python3
"""mixcheck.py - send the first requests of each kind of a deck once and
tally the HTTP statuses per kind, so a deck that mostly earns 403/404/409
is caught before it is benchmarked (wrk only counts non-2xx/3xx overall).
Also prints each kind's single-request latency, p50 and p99 (one request at
a time on a fresh connection, so it shows what a page costs and whether it
grows with the data set, not throughput).

Usage: mixcheck.py URL DECK TOKENS [PER_KIND]   (exit 1 if a kind is < 90 % 2xx)
"""
import collections
import statistics
import sys
import time
import urllib.error
import urllib.request


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    url, deck, tokfile = sys.argv[1:4]
    per_kind = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    tokens = open(tokfile).read().split("\n")
    seen = collections.Counter()
    status = collections.defaultdict(collections.Counter)
    took = collections.defaultdict(list)
    sample_err = {}
    for line in open(deck, encoding="utf-8"):
        m, path, t, body, kind = line.rstrip("\n").split("\t")
        if seen[kind] >= per_kind:
            continue
        seen[kind] += 1
        h = {"Accept": "application/json"}
        if int(t) >= 0:
            h["Authorization"] = "Bearer " + tokens[int(t)]
        data = None
        if body:
            h["Content-Type"] = "application/json"
            data = body.encode()
        req = urllib.request.Request(url + path, data=data, headers=h, method=m)
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
            sample_err.setdefault((kind, code), "%s %s -> %s" % (m, path, e.read()[:300].decode(errors="replace")))
        took[kind].append((time.perf_counter() - t0) * 1000)
        status[kind][code] += 1
    bad = False
    for kind in sorted(status):
        c = status[kind]
        ok = sum(v for k, v in c.items() if 200 <= k < 300)
        print("%-16s %-14s p50 %6.1f ms p99 %6.1f ms" % (kind, " ".join("%d×%d" % (v, k) for k, v in sorted(c.items())),
                                                       statistics.median(took[kind]), pct(took[kind], 0.99)))
        if ok < 0.9 * sum(c.values()):
            bad = True
    for (kind, code), msg in sorted(sample_err.items()):
        print("  e.g. %s %d: %s" % (kind, code, msg))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
