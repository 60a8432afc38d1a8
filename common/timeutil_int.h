/* Internals shared by timeutil.c (durations, RFC 3339, clocks and these civil-date helpers)
 * and tz.c (time zones and calendar arithmetic). Not for use outside them. */
#ifndef SLIC_TIMEUTIL_INT_H
#define SLIC_TIMEUTIL_INT_H

#include "timeutil.h"

#include <stdbool.h>
#include <stdint.h>

#define SLIC__SECS_PER_DAY INT64_C(86400)

/* A proleptic Gregorian date: year, month 1-12, day 1-31. */
struct slic__civil {
    int64_t y;
    unsigned m, d;
};

/* Division and remainder rounding towards negative infinity; b != 0. */
int64_t slic__floor_div(int64_t a, int64_t b);
int64_t slic__floor_mod(int64_t a, int64_t b);

/* Whether y is a leap year, and the days in month m (1-12) of year y. */
bool slic__is_leap(int64_t y);
unsigned slic__days_in_month(int64_t y, unsigned m);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d, and the date of day z. */
int64_t slic__days_from_civil(int64_t y, unsigned m, unsigned d);
struct slic__civil slic__civil_from_days(int64_t z);

/* Whether Unix time t lies in SLIC_TIME_MIN..MAX. */
bool slic__time_in_range(int64_t t);

/* Whether c is an ASCII digit, whatever the locale. */
bool slic__is_digit(char c);

/* Reads exactly n digits at *pp as a number into *out and advances *pp; false, with neither
 * written, if any is not a digit. */
bool slic__read_digits(const char **pp, int n, int *out);

/* Advances *pp past the character c; false, with *pp unchanged, if *pp does not start with c. */
bool slic__expect_char(const char **pp, char c);

#endif
