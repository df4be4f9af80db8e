/*
 * api.h - the HTTP API: route tables of every area.
 *
 * Each area (operations, auth, school, journal, ...) has one file in src/api
 * with a register function that adds its routes. Handlers here translate
 * HTTP to domain calls and back: they parse and validate input, ask the
 * domain layer (which checks access), and shape the JSON; they hold no
 * business rules and no SQL of their own beyond what the domain exposes.
 */
#ifndef DN_API_API_H
#define DN_API_API_H

#include "app.h"

/** Register every route of the API. Returns 0 or a negative code. */
int dn_api_register(dn_app_t *app);

/* Per-area registration, called by dn_api_register. */
int dn_api_register_ops(dn_app_t *app);
int dn_api_register_auth(dn_app_t *app);
int dn_api_register_school(dn_app_t *app);
int dn_api_register_timetable(dn_app_t *app);
int dn_api_register_journal(dn_app_t *app);
int dn_api_register_diary(dn_app_t *app);
int dn_api_register_works(dn_app_t *app);
int dn_api_register_files(dn_app_t *app);
int dn_api_register_privacy(dn_app_t *app); /* 152-FZ export and anonymisation (api/privacy_api.c) */
int dn_api_register_web(dn_app_t *app); /* the web UI at "/" (api/web.c) */

#endif
