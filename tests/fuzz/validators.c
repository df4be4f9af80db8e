/*
 * validators.c - libFuzzer harness: the pure validators the handlers call
 * on request values, driven directly so each input hits them without the
 * route and store around them (api_json covers that path):
 * dates (src/core/date.c), class names and letters, person names and
 * logins (src/domain/school.c), a year's terms and a timetable's slots from a
 * JSON body (jansson, as dn_req_json_body parses it).
 *
 * Byte 0 picks: 0 date text, 1 class name, 2 JSON body
 * {"term_kind", "year_start", "terms", "slots", "login", "last_name",
 * "first_name", "middle_name"}. Invariants: a valid date formats back to the
 * same text and has a weekday 1..7; a refused validation explains itself in
 * errors; an accepted value set fits its declared bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "core/date.h"
#include "core/error.h"
#include "domain/school.h"
#include "domain/timetable.h"

static void date(const char *s)
{
    int64_t days = 0;
    if (dn_date_parse(s, &days) != 0) {
        if (dn_date_valid(s) || dn_date_weekday(s) != 0)
            abort();
        return;
    }
    char back[11], next[11];
    dn_date_format(days, back);
    if (strcmp(back, s) != 0)
        abort();
    int wd = dn_date_weekday(s);
    if (wd < 1 || wd > 7)
        abort();
    if (dn_date_add(s, 1, next) != 0)
        abort();
    if (dn_date_valid(next) && dn_date_weekday(next) != wd % 7 + 1)
        abort();
}

static void class_name(const char *s)
{
    int grade = 0;
    char letter[16];
    if (dn_school_class_parse_name(s, &grade, letter, sizeof letter) == 0) {
        if (grade < 1 || grade > 11 || !dn_school_letter_valid(letter) || strlen(letter) >= sizeof letter)
            abort();
    }
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v != NULL ? v : "";
}

static void body(const char *s, size_t n)
{
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    json_t *errors = json_array();
    json_t *ys = json_object_get(root, "year_start");
    int year = json_is_integer(ys) ? (int)(json_integer_value(ys) % 100000) : 2026;
    int rc = dn_school_terms_validate(str(root, "term_kind"), year, json_object_get(root, "terms"), errors);
    if ((rc != 0) != (json_array_size(errors) != 0))
        abort();
    json_array_clear(errors);

    json_t *slots_json = json_object_get(root, "slots");
    if (slots_json != NULL) {
        static dn_tt_slot_t slots[DN_TT_MAX_SLOTS];
        int nslots = -1;
        rc = dn_timetable_slots_parse(slots_json, slots, &nslots, errors);
        if ((rc != 0) != (json_array_size(errors) != 0))
            abort();
        if (rc == 0) {
            if (nslots < 0 || nslots > DN_TT_MAX_SLOTS)
                abort();
            for (int i = 0; i < nslots; i++)
                if (slots[i].weekday < 1 || slots[i].weekday > 7 || slots[i].lesson_no < 0 ||
                    slots[i].lesson_no > 12 || memchr(slots[i].room, '\0', sizeof slots[i].room) == NULL ||
                    memchr(slots[i].subgroup, '\0', sizeof slots[i].subgroup) == NULL)
                    abort();
        }
        json_array_clear(errors);
    }

    dn_person_t p = {str(root, "login"), str(root, "last_name"), str(root, "first_name"), str(root, "middle_name")};
    for (int required = 0; required <= 1; required++) {
        rc = dn_school_person_validate(&p, required, errors);
        if ((rc != 0) != (json_array_size(errors) != 0))
            abort();
        json_array_clear(errors);
    }
    json_decref(errors);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        date(s);
        break;
    case 1:
        class_name(s);
        break;
    default:
        body(s, size - 1);
    }
    free(s);
    return 0;
}
