#!/usr/bin/env python3
"""mixdeck.py - the request deck of the "mix" benchmark (issue 6).

Reads a generated data set (the logins CSV of `dnevnik gen` plus a few bulk
SQL reads from SQLite or PostgreSQL), mints HS256 access tokens offline with
the key the server is started with (DNEVNIK_JWT_KEY), and writes a deck:
a fixed, seeded sequence of ready-to-send requests that wrk (bench/lib/mix.lua)
cycles through. Minting offline keeps the server honest: every request still
carries a token the server fully verifies (header kid, HS256 signature, exp,
roles), it just was not issued by /auth/login (argon2 would make a 100k-user
sample cost minutes).

The token format mirrors src/auth/jwt.c: header {"alg":"HS256","kid":hex of
the first 8 bytes of SHA-256(key),"typ":"JWT"}, claims {"sub":"<user id>",
"iat","exp","roles":[[school_id,"role"],...]} with the roles from user_roles.

Decks (one request per line: METHOD <TAB> PATH <TAB> TOKEN# <TAB> BODY <TAB> KIND):
  mix     the everyday mix (weights below: teachers ~43 %, writes ~25 %)
  writes  only the write kinds of the mix, same relative weights
  login   POST /api/v1/auth/login of random users (the 1 September storm)
Tokens go to a separate file, one per line, so decks stay small.

Usage: mixdeck.py --db sqlite:PATH|postgresql://... --logins CSV --key HEX
                  --out DIR [--users N] [--requests N] [--seed S] [--today D]
"""
import argparse
import base64
import collections
import csv
import datetime
import hashlib
import hmac
import json
import os
import random
import sqlite3
import subprocess
import sys
import time

# Relative weights (percent of all requests). Derived from the seed
# numbers: a teacher makes ~324 requests a day, a student ~24, so teachers give
# ~43 % of the traffic; about a quarter of all requests are writes. Parents
# read their children's pages.
MIX = [
    # role,    kind,            weight, write
    ("teacher", "my_lessons",      8, False),
    ("teacher", "journal",        10, False),
    ("teacher", "work_get_t",      3, False),
    ("teacher", "mark_post",       8, True),
    ("teacher", "marks_put",       3, True),
    ("teacher", "attendance_put",  8, True),
    ("teacher", "work_comment_t",  3, True),
    ("student", "week",           17, False),
    ("student", "marks",          12, False),
    ("student", "work_get_s",      3, False),
    ("student", "work_submit",     2, True),
    ("student", "work_comment_s",  1, True),
    ("parent",  "week_child",     12, False),
    ("parent",  "marks_child",    10, False),
]

WORK_TEXTS = ["Прикладываю решение, задача 3 двумя способами.", "Исправил ошибки, посмотрите, пожалуйста.",
              "Конспект параграфа и ответы на вопросы."]
COMMENTS = ["Хорошо, но проверьте второе задание.", "Спасибо, поправлю до пятницы.", "Оформление аккуратное."]
STATUSES = ["absent", "late", "excused", "present"]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(key, kid, uid, roles, now, ttl):
    header = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    claims = {"sub": str(uid), "iat": now, "exp": now + ttl, "roles": [[s, r] for s, r in roles]}
    signing = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


class Store:
    """Bulk reads from SQLite (sqlite3 module) or PostgreSQL (psql --csv)."""

    def __init__(self, url):
        self.url = url
        if url.startswith("sqlite:"):
            self.con = sqlite3.connect("file:" + url[len("sqlite:"):] + "?mode=ro", uri=True)
        elif url.startswith("postgres"):
            self.con = None
        else:
            sys.exit("mixdeck: --db must be sqlite:PATH or postgresql://...")

    def rows(self, sql):
        if self.con is not None:
            return self.con.execute(sql).fetchall()
        out = subprocess.run(["psql", "-X", "-q", "--csv", "-t", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(int(x) if x.lstrip("-").isdigit() else x for x in r) for r in csv.reader(out.splitlines())]

    def rows_in(self, sql, ids, chunk=2000):
        """sql has one {ids} placeholder; ids are integers (safe to inline)."""
        ids = sorted(set(ids))
        out = []
        for i in range(0, len(ids), chunk):
            out += self.rows(sql.format(ids=",".join(str(int(x)) for x in ids[i:i + chunk])))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--logins", required=True)
    ap.add_argument("--key", required=True, help="the server's DNEVNIK_JWT_KEY (hex)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--users", type=int, default=3000, help="sampled users per role")
    ap.add_argument("--requests", type=int, default=40000, help="requests in the mix deck")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--today", default=datetime.date.today().isoformat())
    ap.add_argument("--ttl", type=int, default=7 * 24 * 3600)
    a = ap.parse_args()
    t0 = time.time()
    rnd = random.Random(a.seed)
    key = bytes.fromhex(a.key)
    kid = hashlib.sha256(key).hexdigest()[:16]
    st = Store(a.db)
    today = a.today
    recent = (datetime.date.fromisoformat(today) - datetime.timedelta(days=14)).isoformat()

    by_role = collections.defaultdict(list)
    logins = []
    with open(a.logins, newline="") as f:
        for r in csv.DictReader(f):
            logins.append((r["login"], r["password"]))
            if r["role"] in ("student", "parent", "teacher"):
                by_role[r["role"]].append(int(r["user_id"]))
    sample = {role: rnd.sample(ids, min(a.users, len(ids))) for role, ids in by_role.items()}
    everyone = [u for ids in sample.values() for u in ids]

    roles = collections.defaultdict(list)
    for uid, school, role in st.rows_in("SELECT user_id, school_id, role FROM user_roles WHERE user_id IN ({ids})",
                                        everyone):
        roles[uid].append((school, role))
    # current term per school (the one containing today, else the latest started)
    term = {}
    for tid, school, starts in st.rows("SELECT id, school_id, starts_on FROM terms WHERE starts_on <= '%s' "
                                       "ORDER BY school_id, starts_on" % today):
        term[school] = tid
    open_terms = st.rows("SELECT school_id, starts_on, ends_on FROM terms WHERE closed_at IS NULL AND "
                         "starts_on <= '%s' AND ends_on >= '%s'" % (today, recent))

    # students: class, school; parents: children
    stu_class = {}
    for sid, cid, school in st.rows_in(
            "SELECT cs.student_id, cs.class_id, c.school_id FROM class_students cs JOIN classes c ON c.id = cs.class_id "
            "WHERE cs.to_date IS NULL AND cs.student_id IN ({ids})", sample.get("student", [])):
        stu_class[sid] = (cid, school)
    children = collections.defaultdict(list)
    for pid, sid in st.rows_in("SELECT parent_id, student_id FROM parent_links WHERE parent_id IN ({ids})",
                               sample.get("parent", [])):
        children[pid].append(sid)
    # teachers: (class, subject, school) they teach; their recent writable lessons
    teaches = collections.defaultdict(list)
    for tid, cid, subj, school in st.rows_in(
            "SELECT teacher_id, class_id, subject_id, school_id FROM assignments WHERE teacher_id IN ({ids})",
            sample.get("teacher", [])):
        teaches[tid].append((cid, subj, school))
    lessons = collections.defaultdict(list)
    lesson_rows = st.rows_in(
        "SELECT teacher_id, id, class_id, school_id, date FROM lessons WHERE cancelled = 0 AND date <= '%s' AND "
        "date >= '%s' AND teacher_id IN ({ids})" % (today, recent), sample.get("teacher", []))
    writable = collections.defaultdict(list)  # school -> [(from, to)] of open terms
    for school, s, e in open_terms:
        writable[school].append((s, e))
    for tid, lid, cid, school, d in lesson_rows:
        if any(s <= d <= e for s, e in writable.get(school, [])):
            lessons[tid].append((lid, cid))
    roster = collections.defaultdict(list)
    for cid, sid in st.rows_in("SELECT class_id, student_id FROM class_students WHERE to_date IS NULL AND "
                               "class_id IN ({ids})", [c for ls in lessons.values() for _, c in ls]):
        roster[cid].append(sid)
    # works: a teacher's (through the checkpoint) and a student's own
    t_works = collections.defaultdict(list)
    for tid, wid in st.rows_in("SELECT c.teacher_id, w.id FROM works w JOIN checkpoints c ON c.id = w.checkpoint_id "
                               "WHERE c.teacher_id IN ({ids})", sample.get("teacher", [])):
        t_works[tid].append(wid)
    s_works = collections.defaultdict(list)
    for sid, wid in st.rows_in("SELECT student_id, id FROM works WHERE student_id IN ({ids})",
                               sample.get("student", [])):
        s_works[sid].append(wid)
    class_cps = collections.defaultdict(list)
    for cid, cpid in st.rows_in("SELECT class_id, id FROM checkpoints WHERE due_date >= '%s' AND class_id IN ({ids})"
                                % recent, [c for c, _ in stu_class.values()]):
        class_cps[cid].append(cpid)

    # tokens (only for users who can make at least one request)
    now = int(time.time())
    token_no, tokens = {}, []

    def tok(uid):
        if uid not in token_no:
            token_no[uid] = len(tokens)
            tokens.append(mint(key, kid, uid, roles[uid], now, a.ttl))
        return token_no[uid]

    def make(kind):
        """One request of KIND for a random sampled user, or None if that user has nothing for it."""
        if kind in ("my_lessons", "journal", "work_get_t", "mark_post", "marks_put", "attendance_put",
                    "work_comment_t"):
            t = rnd.choice(sample["teacher"])
            if kind == "my_lessons":
                return ("GET", "/api/v1/me/lessons", tok(t), "")
            if kind == "journal":
                if not teaches[t]:
                    return None
                cid, subj, school = rnd.choice(teaches[t])
                return ("GET", "/api/v1/classes/%d/journal?subject_id=%d&term_id=%d" % (cid, subj, term[school]),
                        tok(t), "")
            if kind in ("work_get_t", "work_comment_t"):
                if not t_works[t]:
                    return None
                w = rnd.choice(t_works[t])
                if kind == "work_get_t":
                    return ("GET", "/api/v1/works/%d" % w, tok(t), "")
                return ("POST", "/api/v1/works/%d/comments" % w, tok(t), json.dumps({"text": rnd.choice(COMMENTS)}))
            if not lessons[t]:
                return None
            lid, cid = rnd.choice(lessons[t])
            kids = roster[cid]
            if not kids:
                return None
            if kind == "mark_post":
                body = {"student_id": rnd.choice(kids), "value": rnd.randint(2, 5)}
                return ("POST", "/api/v1/lessons/%d/marks" % lid, tok(t), json.dumps(body))
            if kind == "marks_put":
                body = {"marks": [{"student_id": s, "value": rnd.choice([None, None, 3, 4, 5])} for s in kids]}
                return ("PUT", "/api/v1/lessons/%d/marks" % lid, tok(t), json.dumps(body))
            body = {"items": [{"student_id": s, "status": rnd.choice(STATUSES[:3])}
                              for s in rnd.sample(kids, min(3, len(kids)))]}
            return ("PUT", "/api/v1/lessons/%d/attendance" % lid, tok(t), json.dumps(body))
        if kind in ("week", "marks", "work_get_s", "work_submit", "work_comment_s"):
            s = rnd.choice(sample["student"])
            if s not in stu_class:
                return None
            cid, school = stu_class[s]
            if kind == "week":
                return ("GET", "/api/v1/students/%d/week" % s, tok(s), "")
            if kind == "marks":
                return ("GET", "/api/v1/students/%d/marks?term_id=%d" % (s, term[school]), tok(s), "")
            if kind == "work_submit":
                if not class_cps[cid]:
                    return None
                return ("POST", "/api/v1/checkpoints/%d/works" % rnd.choice(class_cps[cid]), tok(s),
                        json.dumps({"text": rnd.choice(WORK_TEXTS)}))
            if not s_works[s]:
                return None
            w = rnd.choice(s_works[s])
            if kind == "work_get_s":
                return ("GET", "/api/v1/works/%d" % w, tok(s), "")
            return ("POST", "/api/v1/works/%d/comments" % w, tok(s), json.dumps({"text": rnd.choice(COMMENTS)}))
        p = rnd.choice(sample["parent"])
        if not children[p]:
            return None
        c = rnd.choice(children[p])
        if kind == "week_child":
            return ("GET", "/api/v1/students/%d/week" % c, tok(p), "")
        return ("GET", "/api/v1/students/%d/marks" % c, tok(p), "")

    def deck(entries, n):
        kinds = [k for _, k, _, _ in entries]
        weights = [w for _, _, w, _ in entries]
        out, misses = [], 0
        while len(out) < n:
            k = rnd.choices(kinds, weights)[0]
            r = make(k)
            if r is None:
                misses += 1
                if misses > 20 * n:
                    sys.exit("mixdeck: the data set has nothing for '%s'" % k)
                continue
            out.append(r + (k,))
        return out

    os.makedirs(a.out, exist_ok=True)

    def write(name, reqs):
        with open(os.path.join(a.out, name), "w") as f:
            for m, path, t, body, k in reqs:
                f.write("%s\t%s\t%d\t%s\t%s\n" % (m, path, t, body, k))

    mix = deck(MIX, a.requests)
    write("mix.deck", mix)
    write("writes.deck", deck([e for e in MIX if e[3]], a.requests // 2))
    with open(os.path.join(a.out, "login.deck"), "w") as f:
        for _ in range(min(a.requests, 20000)):
            lg, pw = rnd.choice(logins[1:] if logins[0][0] == "" else logins)
            f.write("POST\t/api/v1/auth/login\t-1\t%s\tlogin\n" % json.dumps({"login": lg, "password": pw}))
    with open(os.path.join(a.out, "tokens.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    share = collections.Counter(k for *_, k in mix)
    roles_share = collections.Counter(next(r for r, k, _, _ in MIX if k == kind) for *_, kind in mix)
    writes = sum(1 for r in mix if r[0] != "GET")
    info = {
        "requests": len(mix), "tokens": len(tokens), "sampled_users": {k: len(v) for k, v in sample.items()},
        "writes_share": round(writes / len(mix), 3),
        "role_share": {k: round(v / len(mix), 3) for k, v in roles_share.items()},
        "kinds": dict(sorted(share.items())), "today": today, "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(a.out, "deck.json"), "w") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
    print(json.dumps(info, ensure_ascii=False))


if __name__ == "__main__":
    main()
