/* Small pieces of command-line handling shared by the subcommands that take layers, implementations
 * and thread counts (bench, tune). */
#ifndef CNB_HARNESS_CLIOPT_H
#define CNB_HARNESS_CLIOPT_H

#include <stdbool.h>
#include <stddef.h>

#define CNB_MAX_THREAD_COUNTS 64
/* The largest thread count bench and tune take: they keep a CPU and a thread id per thread of each entry. */
#define CNB_MAX_THREADS 512

/* "--name VALUE" or "--name=VALUE": true when argv[*i] is that option (then *i moves past what it used);
 * *v is NULL if the value is missing. */
bool cnb_opt_take(int argc, char **argv, int *i, const char *name, const char **v);

/* Whether name matches one of the comma-separated fnmatch globs (NULL: everything matches). */
bool cnb_impl_matches(const char *name, const char *globs);

/* "1,2,4" or "scaling" (1 .. cores; with more than CNB_MAX_THREAD_COUNTS cores, the powers of two and
 * cores) into list[*n]; refuses counts above cores or CNB_MAX_THREADS, and more than CNB_MAX_THREAD_COUNTS
 * counts, with a message. */
bool cnb_parse_threads(const char *s, int cores, int *list, int *n, char *msg, size_t msize);

#endif /* CNB_HARNESS_CLIOPT_H */
