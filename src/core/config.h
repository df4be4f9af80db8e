/*
 * config.h - every option of dnevnik, from one table.
 *
 * Precedence: command-line flag > environment variable (DNEVNIK_<NAME>) >
 * config file (--config, KEY = VALUE lines) > built-in default. An invalid
 * value anywhere is an error, never a silent default. Secrets (later: key
 * files) are only accepted as file paths or environment, never as flags.
 */
#ifndef DN_CORE_CONFIG_H
#define DN_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct dn_config {
    char listen[128];          /* --listen host:port, default 127.0.0.1:8080 */
    int threads;               /* --threads, event loops, default = cores */
    int workers;               /* --workers, store workers, default 2*cores (sqlite) / 4*cores (pg) when 0 */
    int hash_threads;          /* --hash-threads, password hashing, 0 = half the cores (at least 1) */
    char db_url[1024];         /* --db, default sqlite:dnevnik.db */
    size_t max_body;           /* --max-body bytes, default 1 MiB */
    int request_timeout_ms;    /* --request-timeout, header/body/idle timeout, default 10000 */
    int shutdown_timeout_ms;   /* --shutdown-timeout, default 10000 */
    int max_connections;       /* --max-connections per process, default 10000 */
    char log_level[16];        /* --log-level, default info */
    char log_file[512];        /* --log-file, "-" = stderr (default) */
    char access_log[512];      /* --access-log, "-" = stdout, "" = off (default "-") */
    char data_dir[512];        /* --data-dir, files and keys, default ./data */
    char web_dir[512];         /* --web-dir, built web UI; "" = "web" next to the binary */
    char config_file[512];     /* --config, optional */
    int demo;                  /* --demo, seed a demo school on first start (0/1) */
    int db_timeout_ms;         /* --db-timeout, bound on one PostgreSQL round trip in serve */
    int loop_reads;            /* --loop-reads, everyday-page reads on the event loops (SQLite, no Redis) */
    char files_backend[16];    /* --files-backend local|s3 */
    char files_dir[512];       /* --files-dir, default <data-dir>/files when empty */
    size_t file_max_size;      /* --file-max-size bytes per uploaded file, default 20 MiB */
    size_t upload_quota;       /* --upload-quota bytes per student per day, default 100 MiB */
    int upload_concurrency;    /* --upload-concurrency, uploads held at once, default 4 */
    int cache_entries;         /* --cache-entries, hot-read cache slots, 0 = off, default 65536 */
    int files_retention_days;  /* --files-retention-days, purge files older than this, default 365 */
    char s3_endpoint[256];     /* --s3-endpoint http(s)://host:port */
    char s3_bucket[128];       /* --s3-bucket */
    char s3_region[64];        /* --s3-region, default us-east-1 */
    char jwt_keys_file[512];   /* --jwt-keys-file, "kid secret" lines, first signs; "" = DNEVNIK_JWT_KEY or data-dir */
    int max_conns_per_addr;    /* --max-connections-per-address, 0 = no limit, default 256 */
    int hsts_max_age;          /* --hsts-max-age seconds, 0 = no Strict-Transport-Security (default) */
    char db_replica[1024];     /* --db-replica, read-only replica pool URL; "" = none (src/cluster) */
    int read_your_writes_ms;   /* --read-your-writes, ms a writer's reads stay on the primary, default 5000 */
    char redis_url[256];       /* --redis redis://host:port/db; "" = none (src/cluster) */
    char services[64];         /* --services auth,diary,works (default all) */
} dn_config_t;

/** Fill cfg with the built-in defaults. */
void dn_config_defaults(dn_config_t *cfg);
/**
 * Apply config file, environment and flags (argv[0] is the subcommand name,
 * options follow). Returns 0, 1 when --help was asked (usage already printed
 * to stdout), or a negative code with a message in err.
 */
int dn_config_load(dn_config_t *cfg, const char *command, int argc, char **argv, char *err, size_t errlen);
/** Print the option table (flag, env var, default, description). */
void dn_config_usage(FILE *out, const char *command);

#endif
