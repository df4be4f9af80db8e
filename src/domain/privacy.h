/*
 * privacy.h - personal data of a person under 152-FZ: export on request and
 * anonymisation when a student (or parent) leaves. See docs/privacy.md.
 *
 * Export gathers every row that names the person into one JSON document.
 * Anonymisation replaces what identifies the person (names, login, e-mail,
 * sessions, invites, parent links, their hand-in texts and files) while the
 * official record - marks, attendance, term marks, audit of marks - stays
 * attached to the same, now pseudonymous, user id. Access is NOT decided
 * here: callers ask dn_access_check (EXPORT_PERSON / ANONYMISE_PERSON) first.
 */
#ifndef DN_DOMAIN_PRIVACY_H
#define DN_DOMAIN_PRIVACY_H

#include <stdint.h>
#include <jansson.h>

#include "files/files.h"
#include "store/db.h"

/** 0 when user_id names a user, DN_ENOTFOUND when not, or a store code. */
int dn_privacy_user_exists(dn_db_t *db, int64_t user_id);

/**
 * The personal-data document of user_id (schema PersonalData in
 * docs/openapi.yaml): profile, roles, class history, parent/child links,
 * marks, term marks, attendance, works with their versions and comments,
 * uploaded files' metadata with what they are attached to, sessions
 * (refresh-token metadata), invites, audit entries about the person, and a
 * list of what is deliberately not included. DN_ENOTFOUND for an unknown user.
 */
int dn_privacy_export(dn_db_t *db, int64_t user_id, json_t **out);

/**
 * Anonymise user_id on behalf of actor_id. Only accounts whose roles are all
 * student/parent qualify (DN_ECONFLICT otherwise). A student still in a class
 * (membership with to_date NULL or >= today) needs left_on (a date <= today
 * and after the membership's from_date): the membership then ends the day
 * before left_on, in the same transaction; without left_on -> DN_ECONFLICT.
 * Conflict and validation reasons are appended to errors ({field, message}).
 * One write transaction: names -> pseudonym ("Ученик #<id>", "Родитель
 * #<id>", or "Пользователь #<id>" with neither role), login "anon#<id>"
 * (never a valid chosen login), e-mail NULL, unusable password, blocked,
 * token_version + 1, sessions, invites, idempotency records and parent links
 * deleted, own hand-in texts and own comment texts blanked and comment
 * author names replaced, audit row (entity 'user'). After the commit the person's uploaded files are purged
 * with dn_files_purge_uploader (bs). Marks, attendance and term marks are
 * not touched. A second call changes nothing (it only finishes a file purge
 * an earlier call could not complete) and returns the same *out:
 * {id, login, display_name, last_name, first_name, middle_name, blocked,
 * anonymized_at, files_purged}.
 */
int dn_privacy_anonymise(dn_db_t *db, dn_blobstore_t *bs, int64_t user_id, int64_t actor_id, const char *left_on,
                         json_t *errors, json_t **out);

#endif
