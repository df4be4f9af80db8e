/*
 * date.h - calendar dates and clocks, the one implementation for everybody.
 *
 * A date is either ISO text 'YYYY-MM-DD' (how the store and the API carry it)
 * or a day number: days since 1970-01-01 in the proleptic Gregorian calendar
 * (how code does arithmetic on it). "Today" is the UTC date.
 */
#ifndef DN_CORE_DATE_H
#define DN_CORE_DATE_H

#include <stdint.h>

/** Parse a strict 'YYYY-MM-DD' (years 1900..2200) into a day number; DN_EINVAL when malformed or impossible. */
int dn_date_parse(const char *s, int64_t *days);
/** True when s is a valid date for dn_date_parse. */
int dn_date_valid(const char *s);
/** Format a day number as 'YYYY-MM-DD' into out[11]. */
void dn_date_format(int64_t days, char out[11]);
/** Format year, month, day as 'YYYY-MM-DD' into out[11] (no validation). */
void dn_date_format_ymd(char out[11], int y, int m, int d);
/** ISO weekday of a day number: 1 = Monday .. 7 = Sunday. */
int dn_date_weekday_days(int64_t days);
/** ISO weekday of an ISO date, 0 when the date is invalid. */
int dn_date_weekday(const char *date);
/** out = date + days; DN_EINVAL when date is invalid. */
int dn_date_add(const char *date, int days, char out[11]);
/** Today (UTC) as a day number, and as text into out[11]. */
int64_t dn_date_today_days(void);
void dn_date_today(char out[11]);

/** Wall clock, milliseconds since the epoch. */
int64_t dn_now_ms(void);
/** Monotonic clock, nanoseconds (for durations only). */
uint64_t dn_now_mono_ns(void);

#endif
