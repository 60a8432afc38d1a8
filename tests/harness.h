/* A small test harness: each test binary lists its cases in a table and hands it to
 * harness_main(), which runs every case in a child process with a time limit (so one crash or
 * hang fails that case alone) and ends with `harness: N passed, N failed`, the line
 * tests/run-tests.sh adds up. `./test_x NAME` runs only the case NAME, in-process, for gdb.
 *
 * Checks print file:line and the values compared, then end the case. */
#ifndef SLIC_TESTS_HARNESS_H
#define SLIC_TESTS_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

struct harness_case {
    const char *name;
    void (*fn)(void);
};

#define HARNESS_CASES(...) static const struct harness_case harness_cases[] = {__VA_ARGS__}
#define HARNESS_CASE(fn)                                                                           \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define HARNESS_MAIN()                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return harness_main(harness_cases, sizeof harness_cases / sizeof harness_cases[0], argc,   \
                            argv);                                                                 \
    }

int harness_main(const struct harness_case *cases, int n, int argc, char **argv);

/* Seconds each case may run before it counts as failed (default 120). */
void harness_set_timeout(unsigned seconds);

/* Ends the current case as failed after printing the message. */
_Noreturn void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A temporary directory for this case, removed when the case passes. */
const char *harness_tmpdir(void);

/* Writes text to the file `name` in harness_tmpdir() and returns its path, valid until the
 * next call. Fails the case if the file cannot be written. */
const char *harness_write_file(const char *name, const char *text);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            harness_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                           \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_)                                                                  \
            harness_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, check_a_,           \
                         check_b_);                                                                \
    } while (0)

#define CHECK_U64_EQ(a, b)                                                                         \
    do {                                                                                           \
        unsigned long long check_a_ = (unsigned long long)(a);                                     \
        unsigned long long check_b_ = (unsigned long long)(b);                                     \
        if (check_a_ != check_b_)                                                                  \
            harness_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, check_a_,           \
                         check_b_);                                                                \
    } while (0)

/* Return codes: prints both codes with their names. */
#define CHECK_OK(expr) CHECK_ERR((expr), 0)
#define CHECK_ERR(expr, want)                                                                      \
    do {                                                                                           \
        int check_rc_ = (expr), check_want_ = (want);                                              \
        if (check_rc_ != check_want_)                                                              \
            harness_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s)", #expr,       \
                         check_rc_, harness_errname(check_rc_), check_want_,                       \
                         harness_errname(check_want_));                                            \
    } while (0)

#define CHECK_DBL_EQ(a, b)                                                                         \
    do {                                                                                           \
        double check_a_ = (a), check_b_ = (b);                                                     \
        if (!(check_a_ == check_b_))                                                               \
            harness_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g", #a, #b, check_a_,         \
                         check_b_);                                                                \
    } while (0)

/* |a - b| <= tol * |b|: relative tolerance against the expected value b. */
#define CHECK_REL(a, b, tol)                                                                       \
    do {                                                                                           \
        double check_a_ = (a), check_b_ = (b), check_t_ = (tol);                                   \
        double check_d_ = check_a_ > check_b_ ? check_a_ - check_b_ : check_b_ - check_a_;         \
        double check_m_ = check_b_ < 0 ? -check_b_ : check_b_;                                     \
        if (!(check_d_ <= check_t_ * check_m_))                                                    \
            harness_fail(__FILE__, __LINE__,                                                       \
                         "%s ~ %s: %.17g vs %.17g, relative error %.3g > %.3g", #a, #b, check_a_,  \
                         check_b_, check_m_ > 0 ? check_d_ / check_m_ : check_d_, check_t_);       \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!harness_str_eq(check_a_, check_b_))                                                   \
            harness_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                 \
                         check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");          \
    } while (0)

const char *harness_errname(int code);
bool harness_str_eq(const char *a, const char *b);

/* A seeded generator for reproducible random tests (xoshiro256**). */
struct harness_rng {
    uint64_t s[4];
};
void harness_rng_seed(struct harness_rng *r, uint64_t seed);
uint64_t harness_rng_next(struct harness_rng *r);
/* Uniform in [0, 1). */
double harness_rng_uniform(struct harness_rng *r);
/* Standard normal (Box-Muller). */
double harness_rng_normal(struct harness_rng *r);

#endif
