/* Command-line helpers shared by bench and tune (cliopt.h). */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cliopt.h"

/* "--name VALUE" or "--name=VALUE": true when argv[*i] is that option; *v is NULL if the value is missing. */
bool cnb_opt_take(int argc, char **argv, int *i, const char *name, const char **v) {
    const size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return false;
    if (argv[*i][n] == '=') {
        *v = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n]) return false;
    *v = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

bool cnb_impl_matches(const char *name, const char *globs) {
    if (!globs) return true;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", globs);
    for (char *save = NULL, *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save))
        if (!fnmatch(g, name, 0)) return true;
    return false;
}

bool cnb_parse_threads(const char *s, int cores, int *list, int *n, char *msg, size_t msize) {
    *n = 0;
    if (cores > CNB_MAX_THREADS) cores = CNB_MAX_THREADS;
    if (!strcmp(s, "scaling")) {
        if (cores <= CNB_MAX_THREAD_COUNTS) {
            for (int t = 1; t <= cores; t++) list[(*n)++] = t;
        } else {
            for (int t = 1; t < cores; t *= 2) list[(*n)++] = t;
            list[(*n)++] = cores;
        }
        return true;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end || v < 1 || *n >= CNB_MAX_THREAD_COUNTS) {
            snprintf(msg, msize, "--threads: '%s' is not a list of positive thread counts or 'scaling'", s);
            return false;
        }
        if (v > cores) {
            if (cores == CNB_MAX_THREADS)
                snprintf(msg, msize, "--threads %ld: at most %d threads are supported", v, CNB_MAX_THREADS);
            else
                snprintf(msg, msize, "--threads %ld: this machine has %d physical cores; more threads than cores is refused", v, cores);
            return false;
        }
        list[(*n)++] = (int)v;
    }
    if (!*n) {
        snprintf(msg, msize, "--threads: empty list");
        return false;
    }
    return true;
}
