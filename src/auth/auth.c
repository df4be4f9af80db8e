/*
 * auth.c - process auth state, request authentication, sign-in support.
 *
 * dn_auth_init loads the JWT keyset (--jwt-keys-file, else env
 * DNEVNIK_JWT_KEY, else <data_dir>/jwt.key, created 0600 with 32 random
 * bytes) and builds the rate limiters. The keyset is swapped whole through an
 * atomic pointer on reload (SIGHUP); the rest of struct dn_auth is read-only
 * or locks internally. Keys are never logged or echoed, only kids. Refresh
 * tokens are stored only as SHA-256 hex; a reused (already rotated) token
 * revokes its family, because only a thief or a replay can present it.
 */
#include "auth/auth.h"
#include "core/date.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "cluster/cluster.h"
#include "core/error.h"

#define DEFAULT_ACCESS_TTL_S (15 * 60)
#define REFRESH_TTL_MS (30LL * 24 * 3600 * 1000)
#define DEFAULT_API_RPS 100.0
#define DEFAULT_API_BURST 300.0
#define LIMITER_ENTRIES 65536
/* Sign-in failures: 5 per login then one more per minute; 30 per address then one per 10 s. */
#define LOGIN_FAIL_BURST 5.0
#define LOGIN_FAIL_RATE (1.0 / 60.0)
#define ADDR_FAIL_BURST 30.0
#define ADDR_FAIL_RATE (1.0 / 10.0)

typedef struct keyset_node {
    dn_jwt_keys_t keys;
    struct keyset_node *next;
} keyset_node_t;

/* The account-state cache of dn_auth_require: one slot per user id modulo the size. */
#define USER_CACHE_SLOTS 4096
#define USER_CACHE_STRIPES 16
#define USER_CACHE_TTL_MS 5000 /* how long a read trusts a cached "not blocked" */

typedef struct {
    int64_t user_id; /* 0 = empty */
    int64_t checked_ms;
    int64_t token_version; /* users.token_version when checked */
    int usable;            /* exists, not blocked, not anonymised */
} user_state_t;

struct dn_auth {
    _Atomic(const dn_jwt_keys_t *) keys; /* the current keyset; swapped whole on reload */
    keyset_node_t *keysets;               /* every keyset ever published, newest first */
    pthread_mutex_t keys_lock;            /* serialises publishers */
    int access_ttl_s;
    pthread_mutex_t user_lock[USER_CACHE_STRIPES];
    user_state_t users[USER_CACHE_SLOTS];
    dn_ratelimit_t *api;        /* per user (authenticated) and per address (anonymous); NULL = off */
    dn_ratelimit_t *login_fail; /* failures per login ("l:") and per address ("a:") */
    dn_ratelimit_t *addr_fail;
    char dummy_hash[crypto_pwhash_STRBYTES];
};

static const char *const role_names[] = {NULL, "student", "parent", "teacher", "admin", "sysadmin"};

dn_role_t dn_role_parse(const char *name)
{
    if (name == NULL)
        return 0;
    for (int r = DN_ROLE_STUDENT; r <= DN_ROLE_SYSADMIN; r++)
        if (strcmp(name, role_names[r]) == 0)
            return (dn_role_t)r;
    return 0;
}

const char *dn_role_name(dn_role_t role)
{
    return role >= DN_ROLE_STUDENT && role <= DN_ROLE_SYSADMIN ? role_names[role] : NULL;
}

int dn_principal_has(const dn_principal_t *p, dn_role_t role, int64_t school_id)
{
    if (p == NULL)
        return 0;
    for (int i = 0; i < p->nroles; i++)
        if (p->roles[i].role == role && p->roles[i].school_id == school_id)
            return 1;
    return 0;
}

int dn_principal_is_sysadmin(const dn_principal_t *p)
{
    if (p == NULL)
        return 0;
    for (int i = 0; i < p->nroles; i++)
        if (p->roles[i].role == DN_ROLE_SYSADMIN)
            return 1;
    return 0;
}

static void finish(dn_stmt_t *st);
static int db_err(dn_db_t *db);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* init                                                               */

/* <data_dir>/jwt.key: raw bytes, created with 32 random bytes on first start. */
static int key_from_data_dir(const char *dir, unsigned char *key, size_t *len, char *err, size_t errlen)
{
    char path[600];
    int fd = -1, rc = DN_EIO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
        return DN_EIO;
    }
    snprintf(path, sizeof(path), "%s/jwt.key", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        unsigned char fresh[32];
        randombytes_buf(fresh, sizeof(fresh));
        ssize_t w = write(fd, fresh, sizeof(fresh));
        sodium_memzero(fresh, sizeof(fresh));
        if (w != (ssize_t)sizeof(fresh) || fsync(fd) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return DN_EIO;
        }
        close(fd);
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return DN_EIO;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return DN_EIO;
    }
    ssize_t r = read(fd, key, DN_JWT_KEY_MAX);
    if (r < 16) {
        snprintf(err, errlen, "%s must hold 16..64 bytes", path);
        goto done;
    }
    *len = (size_t)r;
    rc = 0;
done:
    close(fd);
    return rc;
}

/*
 * The keys file (--jwt-keys-file): "kid secret" lines, secret as hex or
 * base64 (16..64 bytes); '#' lines and blank lines are skipped. The first key
 * signs, the others only verify. The file must not be readable by others
 * nor writable by anyone but its owner (0600, or 0640 root:dnevnik): a key
 * that leaked is a key to retire. Errors name the line, never its content.
 */
static int keys_from_file(const char *path, dn_jwt_keys_t *ks, char *err, size_t errlen)
{
    int rc = 0, lineno = 0;
    struct stat st;
    char iobuf[4096]; /* our own stdio buffer, so it can be wiped: it held the secrets */
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read the JWT keys file %s: %s", path, strerror(errno));
        return DN_EIO;
    }
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    /* group read is allowed: deployments keep secrets root:dnevnik 0640 */
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 027) != 0) {
        snprintf(err, errlen,
                 "the JWT keys file %s must be a regular file that others cannot read and only its owner can write "
                 "(chmod 600 or 640)",
                 path);
        fclose(f); /* nothing was read into iobuf yet */
        return DN_EINVAL;
    }
    char line[512];
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        char kid[DN_JWT_KID_MAX + 2], secret[256], extra[2];
        unsigned char key[DN_JWT_KEY_MAX];
        size_t len = 0;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = DN_EINVAL;
            break;
        }
        char *s = line + strspn(line, " \t\r\n");
        if (*s == '\0' || *s == '#')
            continue;
        int n = sscanf(s, "%33s %255s %1s", kid, secret, extra);
        if (n != 2 || strlen(kid) > DN_JWT_KID_MAX) {
            snprintf(err, errlen, "%s:%d: expected \"kid secret\" (kid: 1..%d of A-Z a-z 0-9 . _ -)", path, lineno,
                     DN_JWT_KID_MAX);
            rc = DN_EINVAL;
        } else if (dn_jwt_key_decode(secret, key, &len) != 0) {
            snprintf(err, errlen, "%s:%d: the secret must be 16..64 bytes as hex or base64", path, lineno);
            rc = DN_EINVAL;
        } else if (dn_jwt_keys_add_kid(ks, kid, key, len) != 0) {
            snprintf(err, errlen, "%s:%d: bad or repeated kid, or more than %d keys", path, lineno, DN_JWT_MAX_KEYS);
            rc = DN_EINVAL;
        }
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(key, sizeof(key));
    }
    sodium_memzero(line, sizeof(line));
    fclose(f);
    sodium_memzero(iobuf, sizeof(iobuf));
    if (rc == 0 && ks->n == 0) {
        snprintf(err, errlen, "the JWT keys file %s holds no key", path);
        rc = DN_EINVAL;
    }
    return rc;
}

/*
 * Build a keyset from, in order: the keys file (--jwt-keys-file), the
 * DNEVNIK_JWT_KEY environment variable (one key, kid = hash of the key),
 * or <data_dir>/jwt.key. Giving both a keys file and DNEVNIK_JWT_KEY is an
 * error: which one signs would be a guess.
 */
static int load_keys(const dn_config_t *cfg, dn_jwt_keys_t *ks, const char **source, char *err, size_t errlen)
{
    unsigned char key[DN_JWT_KEY_MAX];
    size_t keylen = 0;
    int rc;
    const char *env = getenv("DNEVNIK_JWT_KEY");
    memset(ks, 0, sizeof(*ks));
    if (cfg->jwt_keys_file[0] != '\0') {
        if (env != NULL && *env) {
            snprintf(err, errlen, "set either --jwt-keys-file or DNEVNIK_JWT_KEY, not both");
            return DN_EINVAL;
        }
        *source = "keys file";
        rc = keys_from_file(cfg->jwt_keys_file, ks, err, errlen);
    } else if (env != NULL && *env) {
        *source = "DNEVNIK_JWT_KEY";
        rc = dn_jwt_key_decode(env, key, &keylen);
        if (rc != 0)
            snprintf(err, errlen, "DNEVNIK_JWT_KEY must be 16..64 bytes as hex or base64");
        else
            rc = dn_jwt_keys_add(ks, key, keylen);
    } else {
        *source = "data-dir jwt.key";
        rc = key_from_data_dir(cfg->data_dir, key, &keylen, err, errlen);
        if (rc == 0 && (rc = dn_jwt_keys_add(ks, key, keylen)) != 0)
            snprintf(err, errlen, "unusable JWT key");
    }
    sodium_memzero(key, sizeof(key));
    if (rc != 0)
        sodium_memzero(ks, sizeof(*ks));
    return rc;
}

/* Which keys are in use: kids only, never key material. */
static void describe_keys(const dn_jwt_keys_t *ks, const char *source, char *out, size_t outlen)
{
    char older[DN_JWT_MAX_KEYS * (DN_JWT_KID_MAX + 1) + 1] = "";
    size_t off = 0;
    for (int i = 1; i < ks->n; i++)
        off += (size_t)snprintf(older + off, sizeof(older) - off, "%s%s", i > 1 ? "," : "", ks->keys[i].kid);
    snprintf(out, outlen, "JWT keys from %s: signing kid %s; verify-only kids [%s]", source, ks->keys[0].kid, older);
}

/*
 * Publish ks as the current keyset. Readers load the pointer without a lock;
 * superseded keysets are kept on a list until dn_auth_free because a request
 * may still be verifying with one (a few hundred bytes per SIGHUP).
 */
static int publish_keys(struct dn_auth *a, const dn_jwt_keys_t *ks)
{
    keyset_node_t *node = calloc(1, sizeof(*node));
    if (node == NULL)
        return DN_ENOMEM;
    node->keys = *ks;
    pthread_mutex_lock(&a->keys_lock);
    node->next = a->keysets;
    a->keysets = node;
    atomic_store_explicit(&a->keys, &node->keys, memory_order_release);
    pthread_mutex_unlock(&a->keys_lock);
    return 0;
}

int dn_auth_reload_keys(dn_app_t *app, char *msg, size_t msglen)
{
    dn_jwt_keys_t ks;
    const char *source = "";
    int rc = load_keys(&app->config, &ks, &source, msg, msglen);
    if (rc == 0 && (rc = publish_keys(app->auth, &ks)) == 0)
        describe_keys(&ks, source, msg, msglen);
    sodium_memzero(&ks, sizeof(ks));
    return rc;
}

static const dn_jwt_keys_t *current_keys(const struct dn_auth *a)
{
    return atomic_load_explicit(&a->keys, memory_order_acquire);
}

/* DNEVNIK_RATE_LIMIT: "rps:burst", "rps" (burst = 2*rps) or "0" (off). */
static int parse_rate(const char *v, double *rps, double *burst)
{
    char *end = NULL;
    *rps = strtod(v, &end);
    if (end == v || *rps < 0)
        return DN_EINVAL;
    if (*end == ':') {
        const char *b = end + 1;
        *burst = strtod(b, &end);
        if (end == b || *burst < 1)
            return DN_EINVAL;
    } else {
        *burst = *rps * 2 < 1 ? 1 : *rps * 2;
    }
    return *end == '\0' ? 0 : DN_EINVAL;
}

int dn_auth_init(dn_app_t *app, char *err, size_t errlen)
{
    dn_jwt_keys_t ks;
    const char *source = "";
    double rps = DEFAULT_API_RPS, burst = DEFAULT_API_BURST;
    int rc = DN_ENOMEM;
    const char *v;

    memset(&ks, 0, sizeof(ks));
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return DN_EINTERNAL;
    }
    struct dn_auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return DN_ENOMEM;
    pthread_mutex_init(&a->keys_lock, NULL);
    for (int i = 0; i < USER_CACHE_STRIPES; i++)
        pthread_mutex_init(&a->user_lock[i], NULL);
    a->access_ttl_s = DEFAULT_ACCESS_TTL_S;
    if ((v = getenv("DNEVNIK_ACCESS_TOKEN_TTL")) != NULL && *v) {
        char *end = NULL;
        long ttl = strtol(v, &end, 10);
        if (*end != '\0' || ttl < 10 || ttl > 24 * 3600) {
            snprintf(err, errlen, "DNEVNIK_ACCESS_TOKEN_TTL must be seconds in 10..86400");
            rc = DN_EINVAL;
            goto fail;
        }
        a->access_ttl_s = (int)ttl;
    }
    if ((rc = load_keys(&app->config, &ks, &source, err, errlen)) != 0)
        goto fail;
    if ((rc = publish_keys(a, &ks)) != 0)
        goto fail;
    if ((v = getenv("DNEVNIK_RATE_LIMIT")) != NULL && *v && parse_rate(v, &rps, &burst) != 0) {
        snprintf(err, errlen, "DNEVNIK_RATE_LIMIT must be \"rps:burst\", \"rps\" or \"0\"");
        rc = DN_EINVAL;
        goto fail;
    }
    rc = DN_ENOMEM;
    if (rps > 0 && (a->api = dn_ratelimit_new(rps, burst, LIMITER_ENTRIES)) == NULL)
        goto fail;
    a->login_fail = dn_ratelimit_new(LOGIN_FAIL_RATE, LOGIN_FAIL_BURST, LIMITER_ENTRIES);
    a->addr_fail = dn_ratelimit_new(ADDR_FAIL_RATE, ADDR_FAIL_BURST, LIMITER_ENTRIES);
    /* with --redis every node counts against the same limits (NULL: local only) */
    dn_ratelimit_share(a->api, dn_cluster_redis(app), "api");
    dn_ratelimit_share(a->login_fail, dn_cluster_redis(app), "login");
    dn_ratelimit_share(a->addr_fail, dn_cluster_redis(app), "addr");
    if (a->login_fail == NULL || a->addr_fail == NULL)
        goto fail;
    {
        /* Verify unknown logins against a real hash so they take as long as known ones. */
        unsigned char junk[32];
        char pw[65];
        randombytes_buf(junk, sizeof(junk));
        sodium_bin2hex(pw, sizeof(pw), junk, sizeof(junk));
        if ((rc = dn_password_hash(pw, a->dummy_hash, sizeof(a->dummy_hash))) != 0)
            goto fail;
    }
    app->auth = a;
    /* err doubles as the success message: which kids are in use (main logs it). */
    describe_keys(&ks, source, err, errlen);
    sodium_memzero(&ks, sizeof(ks));
    return 0;
fail:
    sodium_memzero(&ks, sizeof(ks));
    app->auth = a;
    dn_auth_free(app);
    return rc;
}

void dn_auth_free(dn_app_t *app)
{
    struct dn_auth *a = app->auth;
    if (a == NULL)
        return;
    dn_ratelimit_free(a->api);
    dn_ratelimit_free(a->login_fail);
    dn_ratelimit_free(a->addr_fail);
    for (keyset_node_t *n = a->keysets, *next; n != NULL; n = next) {
        next = n->next;
        sodium_memzero(n, sizeof(*n));
        free(n);
    }
    pthread_mutex_destroy(&a->keys_lock);
    for (int i = 0; i < USER_CACHE_STRIPES; i++)
        pthread_mutex_destroy(&a->user_lock[i]);
    sodium_memzero(a, sizeof(*a));
    free(a);
    app->auth = NULL;
}

const char *dn_auth_dummy_hash(const dn_app_t *app)
{
    return app->auth->dummy_hash;
}

int dn_auth_issue_access(const dn_app_t *app, const dn_principal_t *p, char **out, int *expires_in)
{
    *expires_in = app->auth->access_ttl_s;
    return dn_jwt_sign(current_keys(app->auth), p, dn_now_ms() / 1000, app->auth->access_ttl_s, out);
}

/* ------------------------------------------------------------------ */
/* rate limits                                                        */

static void too_many(dn_req_t *req, int64_t retry_ms, const char *detail)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, retry_ms <= 0 ? 1 : (retry_ms + 999) / 1000);
    dn_res_header(req, "retry-after", buf);
    dn_res_problem(req, 429, NULL, detail);
}

int dn_auth_throttle_address(dn_req_t *req)
{
    struct dn_auth *a = req->app->auth;
    char key[64];
    int64_t retry = 0;
    if (a->api == NULL)
        return 0;
    snprintf(key, sizeof(key), "a:%s", req->remote_addr);
    if (dn_ratelimit_take(a->api, key, 1, mono_ms(), &retry) == 0)
        return 0;
    too_many(req, retry, "too many requests from this address");
    return DN_ERATELIMIT;
}

int dn_auth_login_check(dn_req_t *req, const char *login)
{
    struct dn_auth *a = req->app->auth;
    char key[200];
    int64_t now = mono_ms(), r1 = 0, r2 = 0;
    snprintf(key, sizeof(key), "l:%s", login);
    int rc1 = dn_ratelimit_check(a->login_fail, key, 1, now, &r1);
    snprintf(key, sizeof(key), "a:%s", req->remote_addr);
    int rc2 = dn_ratelimit_check(a->addr_fail, key, 1, now, &r2);
    if (rc1 == 0 && rc2 == 0)
        return 0;
    too_many(req, r1 > r2 ? r1 : r2, "too many failed sign-in attempts; try again later");
    return DN_ERATELIMIT;
}

void dn_auth_login_failed(dn_req_t *req, const char *login)
{
    struct dn_auth *a = req->app->auth;
    char key[200];
    int64_t now = mono_ms();
    snprintf(key, sizeof(key), "l:%s", login);
    (void)dn_ratelimit_take(a->login_fail, key, 1, now, NULL);
    snprintf(key, sizeof(key), "a:%s", req->remote_addr);
    (void)dn_ratelimit_take(a->addr_fail, key, 1, now, NULL);
}

void dn_auth_login_succeeded(dn_req_t *req, const char *login)
{
    char key[200];
    snprintf(key, sizeof(key), "l:%s", login);
    dn_ratelimit_reset(req->app->auth->login_fail, key);
}

/* ------------------------------------------------------------------ */
/* request authentication                                             */

static void unauthorized(dn_req_t *req, const char *detail)
{
    dn_res_header(req, "www-authenticate", "Bearer realm=\"dnevnik\"");
    dn_res_problem(req, 401, NULL, detail);
}

/*
 * Is the token still good for its account: the account exists, is not
 * blocked or anonymised, and the token carries the account's current
 * token_version (blocking, a password change or reset, and accepting an
 * invite bump it)? A token would otherwise outlive all of these by up to its
 * lifetime. Handlers running on a store worker ask the store: writes always
 * (one primary-key lookup next to a write that fsyncs anyway), reads through
 * a per-process cache whose entries live USER_CACHE_TTL_MS. A write that
 * sees the change refreshes the cache, so reads are refused from then on
 * too; a token newer than the cached version (a fresh sign-in) re-checks.
 * Without a store connection (inline or CPU-pool steps) the token alone
 * decides. 1 good, 0 not, or a negative store error.
 */
static dn_query_t q_user_state = {"SELECT blocked, anonymized_at, token_version FROM users WHERE id = ?"};

static int token_current(dn_req_t *req, const dn_principal_t *p)
{
    struct dn_auth *a = req->app->auth;
    if (req->db == NULL)
        return 1;
    size_t slot = (size_t)((uint64_t)p->user_id % USER_CACHE_SLOTS);
    pthread_mutex_t *lock = &a->user_lock[slot % USER_CACHE_STRIPES];
    int64_t now = mono_ms();
    int is_read = req->method == DN_GET || req->method == DN_HEAD;
    if (is_read) {
        pthread_mutex_lock(lock);
        user_state_t e = a->users[slot];
        pthread_mutex_unlock(lock);
        if (e.user_id == p->user_id && now - e.checked_ms < USER_CACHE_TTL_MS && p->token_version <= e.token_version)
            return e.usable && p->token_version == e.token_version;
    }
    dn_stmt_t *st = dn_db_prepare(req->db, &q_user_state);
    if (st == NULL)
        return db_err(req->db);
    dn_stmt_bind_int64(st, 1, p->user_id);
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    user_state_t e = {.user_id = p->user_id, .checked_ms = now};
    if (rc == DN_DB_ROW) {
        e.usable = dn_stmt_int64(st, 0) == 0 && dn_stmt_is_null(st, 1);
        e.token_version = dn_stmt_int64(st, 2);
        finish(st);
    }
    pthread_mutex_lock(lock);
    a->users[slot] = e;
    pthread_mutex_unlock(lock);
    return e.usable && p->token_version == e.token_version;
}

const dn_principal_t *dn_auth_require(dn_req_t *req)
{
    struct dn_auth *a = req->app->auth;
    const char *h = req->authorization;
    char key[32];
    int64_t retry = 0;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        /* Anonymous callers share their address's budget. */
        if (dn_auth_throttle_address(req) != 0)
            return NULL;
        unauthorized(req, h == NULL ? "missing bearer token" : "Authorization must be a Bearer token");
        return NULL;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    dn_principal_t *p = h2o_mem_alloc_pool(&req->pool, sizeof(dn_principal_t));
    int64_t iat = 0;
    if (dn_jwt_verify_claims(current_keys(a), tok, dn_now_ms() / 1000, p, &iat) != 0) {
        if (dn_auth_throttle_address(req) != 0)
            return NULL;
        unauthorized(req, "invalid or expired access token");
        return NULL;
    }
    if (dn_cluster_token_revoked(req->app, p->user_id, iat)) {
        unauthorized(req, "the access token was revoked");
        return NULL;
    }
    int current = token_current(req, p);
    if (current < 0) {
        dn_res_error(req, current, NULL);
        return NULL;
    }
    if (current == 0) {
        unauthorized(req, "the token was revoked: the account is blocked or gone, or its password changed");
        return NULL;
    }
    if (a->api != NULL) {
        snprintf(key, sizeof(key), "u:%" PRId64, p->user_id);
        if (dn_ratelimit_take(a->api, key, 1, mono_ms(), &retry) != 0) {
            too_many(req, retry, "too many requests for this user");
            return NULL;
        }
    }
    req->auth = p;
    req->user_id = p->user_id;
    return p;
}

const dn_principal_t *dn_auth_principal(const dn_req_t *req)
{
    return req->auth;
}

int64_t dn_auth_token_user(const dn_req_t *req)
{
    const char *h = req->authorization;
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    dn_principal_t p;
    if (dn_jwt_verify(current_keys(req->app->auth), tok, dn_now_ms() / 1000, &p) != 0)
        return 0;
    return p.user_id;
}

/* ------------------------------------------------------------------ */
/* store: principals, refresh tokens, bootstrap                       */

/* Step st past its last row: SQLite holds a read transaction while a
 * statement is unfinished, which would make a later write on this
 * connection fail with "busy". */
static void finish(dn_stmt_t *st)
{
    while (dn_stmt_step(st) == DN_DB_ROW)
        ;
}

static dn_query_t q_roles = {"SELECT school_id, role FROM user_roles WHERE user_id = ? ORDER BY school_id, role"};

static int db_err(dn_db_t *db)
{
    int code = dn_db_errcode(db);
    return code < 0 ? code : DN_EDB;
}

static dn_query_t q_token_version = {"SELECT token_version FROM users WHERE id = ?"};

int dn_auth_load_principal(dn_db_t *db, int64_t user_id, dn_principal_t *p)
{
    memset(p, 0, sizeof(*p));
    p->user_id = user_id;
    /* the version tokens issued now carry: a later block or password change outdates them */
    dn_stmt_t *st = dn_db_prepare(db, &q_token_version);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, user_id);
    int vrc = dn_stmt_step(st);
    if (vrc < 0)
        return vrc;
    if (vrc == DN_DB_ROW) {
        p->token_version = dn_stmt_int64(st, 0);
        finish(st);
    }
    st = dn_db_prepare(db, &q_roles);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, user_id);
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        dn_role_t role = dn_role_parse(dn_stmt_text(st, 1, NULL));
        if (role == 0 || p->nroles >= DN_MAX_PRINCIPAL_ROLES)
            continue;
        p->roles[p->nroles].school_id = dn_stmt_int64(st, 0);
        p->roles[p->nroles].role = role;
        p->nroles++;
    }
    return rc < 0 ? rc : 0;
}

static dn_query_t q_rt_insert = {
    "INSERT INTO refresh_tokens (user_id, family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"};
static dn_query_t q_rt_find = {
    "SELECT r.id, r.user_id, r.family_id, r.expires_at, r.used_at, r.revoked_at, u.blocked "
    "FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = ?"};
static dn_query_t q_rt_mark_used = {"UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL"};
static dn_query_t q_rt_revoke_family = {
    "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL"};
static dn_query_t q_rt_revoke_by_hash = {
    "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id IN "
    "(SELECT family_id FROM refresh_tokens WHERE token_hash = ?)"};
static dn_query_t q_rt_revoke_user = {
    "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"};

static void token_hash(const char *token, char hex[2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, 2 * crypto_hash_sha256_BYTES + 1, d, sizeof(d));
}

/* Insert a fresh token of family for user; the plain token goes to out. */
static int rt_insert(dn_db_t *db, int64_t user_id, const char *family, char out[DN_REFRESH_TOKEN_LEN])
{
    unsigned char raw[32];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, DN_REFRESH_TOKEN_LEN, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    token_hash(out, hex);
    int64_t now = dn_now_ms();
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_insert);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, user_id);
    dn_stmt_bind_text(st, 2, family, -1);
    dn_stmt_bind_text(st, 3, hex, -1);
    dn_stmt_bind_int64(st, 4, now);
    dn_stmt_bind_int64(st, 5, now + REFRESH_TTL_MS);
    return dn_stmt_exec(st);
}

static dn_query_t q_rt_purge = {"DELETE FROM refresh_tokens WHERE expires_at < ?"};

int dn_auth_refresh_create(dn_db_t *db, int64_t user_id, char out[DN_REFRESH_TOKEN_LEN])
{
    unsigned char raw[16];
    char family[33];
    /* A new family is a sign-in: the moment to drop tokens nobody can use any more. */
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_purge);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, dn_now_ms());
    int rc = dn_stmt_exec(st);
    if (rc != 0)
        return rc;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(family, sizeof(family), raw, sizeof(raw));
    return rt_insert(db, user_id, family, out);
}

static int revoke_family(dn_db_t *db, const char *family)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_revoke_family);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, dn_now_ms());
    dn_stmt_bind_text(st, 2, family, -1);
    return dn_stmt_exec(st);
}

int dn_auth_refresh_rotate(dn_db_t *db, const char *token, int64_t *user_id, char out[DN_REFRESH_TOKEN_LEN])
{
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    char family[80];
    int64_t id, uid, expires;
    int used, revoked, blocked, rc;

    token_hash(token, hex);
    if ((rc = dn_db_begin_write(db)) != 0)
        return rc;
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_find);
    if (st == NULL) {
        rc = db_err(db);
        goto rollback;
    }
    dn_stmt_bind_text(st, 1, hex, -1);
    rc = dn_stmt_step(st);
    if (rc != DN_DB_ROW) {
        rc = rc < 0 ? rc : DN_EUNAUTH;
        goto rollback;
    }
    id = dn_stmt_int64(st, 0);
    uid = dn_stmt_int64(st, 1);
    snprintf(family, sizeof(family), "%s", dn_stmt_text(st, 2, NULL));
    expires = dn_stmt_int64(st, 3);
    used = !dn_stmt_is_null(st, 4);
    revoked = !dn_stmt_is_null(st, 5);
    blocked = dn_stmt_int64(st, 6) != 0;
    finish(st);
    if (revoked || expires <= dn_now_ms() || blocked) {
        rc = DN_EUNAUTH;
        goto rollback;
    }
    if (!used) {
        st = dn_db_prepare(db, &q_rt_mark_used);
        if (st == NULL) {
            rc = db_err(db);
            goto rollback;
        }
        dn_stmt_bind_int64(st, 1, dn_now_ms());
        dn_stmt_bind_int64(st, 2, id);
        if ((rc = dn_stmt_exec(st)) != 0)
            goto rollback;
        used = dn_stmt_changes(st) != 1; /* lost a race with another rotation: that is reuse too */
    }
    if (used) {
        /* Reuse of a rotated token: whoever holds the family is not to be trusted. */
        if ((rc = revoke_family(db, family)) != 0)
            goto rollback;
        if ((rc = dn_db_commit(db)) != 0)
            return rc;
        return DN_EUNAUTH;
    }
    if ((rc = rt_insert(db, uid, family, out)) != 0)
        goto rollback;
    if ((rc = dn_db_commit(db)) != 0)
        return rc;
    *user_id = uid;
    return 0;
rollback:
    dn_db_rollback(db);
    return rc;
}

int dn_auth_refresh_revoke(dn_db_t *db, const char *token)
{
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    token_hash(token, hex);
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_revoke_by_hash);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, dn_now_ms());
    dn_stmt_bind_text(st, 2, hex, -1);
    return dn_stmt_exec(st);
}

int dn_auth_refresh_revoke_user(dn_db_t *db, int64_t user_id)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_rt_revoke_user);
    if (st == NULL)
        return db_err(db);
    dn_stmt_bind_int64(st, 1, dn_now_ms());
    dn_stmt_bind_int64(st, 2, user_id);
    return dn_stmt_exec(st);
}

static dn_query_t q_any_user = {"SELECT 1 FROM users LIMIT 1"};
static dn_query_t q_boot_user = {
    "INSERT INTO users (login, password_hash, last_name, first_name, must_change_password, created_at) "
    "VALUES (?, ?, 'Administrator', 'System', 0, ?) RETURNING id"};
static dn_query_t q_boot_role = {"INSERT INTO user_roles (user_id, school_id, role) VALUES (?, 0, 'sysadmin')"};

int dn_auth_bootstrap(dn_db_t *db, char *err, size_t errlen)
{
    const char *v = getenv("DNEVNIK_BOOTSTRAP_ADMIN");
    char hash[crypto_pwhash_STRBYTES];
    char login[128];
    int rc;
    if (v == NULL || *v == '\0')
        return 0;
    const char *colon = strchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(login) || strlen(colon + 1) < 8) {
        snprintf(err, errlen, "DNEVNIK_BOOTSTRAP_ADMIN must be login:password (password of 8+ characters)");
        return DN_EINVAL;
    }
    memcpy(login, v, (size_t)(colon - v));
    login[colon - v] = '\0';

    if ((rc = dn_db_begin_write(db)) != 0)
        goto fail;
    dn_stmt_t *st = dn_db_prepare(db, &q_any_user);
    if (st == NULL) {
        rc = db_err(db);
        goto rollback;
    }
    if ((rc = dn_stmt_step(st)) != DN_DB_DONE) {
        finish(st);
        dn_db_rollback(db);
        return rc < 0 ? rc : 0; /* users exist: nothing to bootstrap */
    }
    if ((rc = dn_password_hash(colon + 1, hash, sizeof(hash))) != 0)
        goto rollback;
    st = dn_db_prepare(db, &q_boot_user);
    if (st == NULL) {
        rc = db_err(db);
        goto rollback;
    }
    dn_stmt_bind_text(st, 1, login, -1);
    dn_stmt_bind_text(st, 2, hash, -1);
    dn_stmt_bind_int64(st, 3, dn_now_ms());
    if ((rc = dn_stmt_step(st)) != DN_DB_ROW) {
        rc = rc < 0 ? rc : DN_EDB;
        goto rollback;
    }
    int64_t id = dn_stmt_int64(st, 0);
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        ;
    if (rc < 0)
        goto rollback;
    st = dn_db_prepare(db, &q_boot_role);
    if (st == NULL) {
        rc = db_err(db);
        goto rollback;
    }
    dn_stmt_bind_int64(st, 1, id);
    if ((rc = dn_stmt_exec(st)) != 0)
        goto rollback;
    if ((rc = dn_db_commit(db)) != 0)
        goto fail;
    return 0;
rollback:
    dn_db_rollback(db);
fail:
    snprintf(err, errlen, "cannot create the bootstrap admin: %s", dn_strerror(rc));
    return rc;
}
