/*
 * seed.h - data for people and for benchmarks.
 *
 * dn_seed_demo() creates one realistic demo school (Russian names, parallels
 * 1-11, ~800 students with parents, teachers, a full timetable, a term of
 * lessons with topics, homework, marks and attendance) with fixed demo
 * logins. dn_seed_generate() creates a region-scale data set for benchmarks.
 *
 * Attendance follows the journal model: a row exists only where the teacher
 * marked something (absent / late / excused); no row means present.
 */
#ifndef DN_DOMAIN_SEED_H
#define DN_DOMAIN_SEED_H

#include <stdio.h>
#include "store/db.h"

typedef struct dn_seed_options {
    int schools;          /* gen: number of schools (>= 1) */
    int students;         /* gen: total students across schools */
    int year_start;       /* academic year, e.g. 2026 for 2026/27; 0 = the current one */
    unsigned seed;        /* PRNG seed: same seed, same data */
    FILE *progress;       /* progress bar target, NULL = quiet */
    const char *logins_out; /* gen: write "login,password,role,user_id,school_id,class_id" CSV of ALL users (NULL = none) */
    int mark_every;       /* gen: a student gets a lesson mark about once per this many lessons (0 = default 4) */
    int fk_checks;        /* gen, PostgreSQL: 1 = keep foreign key triggers on during the load (slower);
                           * 0 = skip them (session_replication_role = replica) when the role may */
} dn_seed_options_t;

/** Password of every generated (dn_seed_generate) user. */
#define DN_SEED_GEN_PASSWORD "bench1234"
/** Password of every demo (dn_seed_demo) user. */
#define DN_SEED_DEMO_PASSWORD "demo1234"

/** True when the store already holds a school (demo is loaded only once). */
int dn_seed_has_data(dn_db_t *db);
/** Create the demo school; prints the demo logins for each role to out. */
int dn_seed_demo(dn_db_t *db, FILE *out);
/** dn_seed_demo as if today were today_iso ('YYYY-MM-DD'; NULL = the real
 *  date): the academic year, past lessons and marks follow that day. */
int dn_seed_demo_on(dn_db_t *db, FILE *out, const char *today_iso);
/** Generate a region-scale data set. */
int dn_seed_generate(dn_db_t *db, const dn_seed_options_t *opt);

#endif
