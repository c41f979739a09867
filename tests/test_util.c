/* Test helpers (test_util.h): the tally, a temporary directory, and fork/exec with captured output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static int g_pass, g_fail;
static char g_tmp[64];

void tu_check(bool ok, const char *what, const char *fmt, ...) {
    if (ok) {
        g_pass++;
        return;
    }
    g_fail++;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s: ", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

int tu_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_pass, g_fail);
    return g_fail ? 1 : 0;
}

const char *tu_tmpdir(void) {
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/cnb_test_XXXXXX");
        if (!mkdtemp(g_tmp)) {
            g_tmp[0] = 0;
            return NULL;
        }
    }
    return g_tmp;
}

void tu_cleanup(void) {
    if (!g_tmp[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd)) printf("warning: could not remove %s\n", g_tmp);
}

static void slurp(const char *path, char *buf, size_t size) {
    if (!buf || !size) return;
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t k = fread(buf, 1, size - 1, f);
    buf[k] = 0;
    fclose(f);
}

// emulate: put CNB_TEST_EXEC in front of bin (a program of the build's target); else start bin as it is (a
// host program, such as /bin/sh).
static int run_prog(const char *bin, bool emulate, char *const args[], char *out, size_t out_size, char *err,
                    size_t err_size) {
    char so[128], se[128];
    const char *dir = tu_tmpdir();
    snprintf(so, sizeof so, "%s/.stdout", dir ? dir : "/tmp");
    snprintf(se, sizeof se, "%s/.stderr", dir ? dir : "/tmp");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(so, "w", stdout) || !freopen(se, "w", stderr)) _exit(126);
        char *argv[160];
        int n = 0;
        // Cross builds run under an emulator (qemu-aarch64), which does not follow execve into another
        // foreign binary: CTest passes it here to be put in front.
        char wrap[512];
        const char *w = emulate ? getenv("CNB_TEST_EXEC") : NULL;
        if (w && *w) {
            snprintf(wrap, sizeof wrap, "%s", w);
            for (char *save = NULL, *tok = strtok_r(wrap, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
                argv[n++] = tok;
        }
        const char *prog = n ? argv[0] : bin;
        argv[n++] = (char *)bin;
        for (int i = 0; args[i] && n < 127; i++) argv[n++] = args[i];
        argv[n] = NULL;
        execvp(prog, argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
    slurp(so, out, out_size);
    slurp(se, err, err_size);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int tu_run(const char *bin, char *const args[], char *out, size_t out_size, char *err, size_t err_size) {
    return run_prog(bin, true, args, out, out_size, err, err_size);
}

int tu_run_host(const char *bin, char *const args[], char *out, size_t out_size, char *err, size_t err_size) {
    return run_prog(bin, false, args, out, out_size, err, err_size);
}

int tu_count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

bool tu_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
