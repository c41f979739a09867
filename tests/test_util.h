/* Shared by the tests that drive the cnnbench command: a pass/fail tally and running a program with its
 * output captured. */
#ifndef CNB_TESTS_TEST_UTIL_H
#define CNB_TESTS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Count a check; print "FAIL what: message" when it fails. */
void tu_check(bool ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print "name: N passed, M failed" and return the exit status for main(). */
int tu_summary(const char *name);

/* A fresh directory under /tmp (removed by tu_cleanup); NULL on failure. */
const char *tu_tmpdir(void);
void tu_cleanup(void);

/* Run bin with the NULL-terminated args (argv[0] is added); stdout and stderr are captured into out/err
 * (either may be NULL). Returns the exit status, or -1 if it died of a signal. */
int tu_run(const char *bin, char *const args[], char *out, size_t out_size, char *err, size_t err_size);
/* tu_run for a program of the host, such as /bin/sh, which no emulator runs: CNB_TEST_EXEC is not put in
 * front of it (a script it runs starts the build's programs with "$CNB_TEST_EXEC" in front itself). */
int tu_run_host(const char *bin, char *const args[], char *out, size_t out_size, char *err, size_t err_size);

int tu_count_lines(const char *s);
bool tu_exists(const char *path);

#endif /* CNB_TESTS_TEST_UTIL_H */
