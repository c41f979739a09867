// Reader of layer suites (suites/*.suite, format in suites/README.md): "name | SPEC | shape | count [| flags]"
// per line, '#' comments. Each line is parsed with cnb_spec_parse and cnb_parse_shape and checked with
// cnb_output_shape, so a suite that loads can be planned layer by layer; a bad line is refused as
// "file:line: reason". Plain C11 plus POSIX opendir() for listing the built-in suites.
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L  // opendir, readdir
#endif
#include "harness/suite.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/spec.h"
#include "core/status.h"

// A suite is a few hundred short lines; the cap only keeps a wrong path (a device, a huge file) from
// being read into memory whole.
#define SUITE_MAX_BYTES (16u << 20)
#define SUITE_EXT ".suite"

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static cnb_status line_fail(cnb_error *err, cnb_status s, const char *path, int line, const char *fmt, ...) {
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    // The reason quotes the file's text: a control character in it (a lone '\r') must not break the line.
    for (char *q = reason; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return cnb_fail(err, s, "%s:%d: %s", path, line, reason);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

// Copies at most size-1 bytes of src[0..n) and terminates; the caller has checked that n fits when it matters.
static void copy_n(char *dst, size_t size, const char *src, size_t n) {
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

// Trims leading and trailing whitespace in place; returns the new start.
static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static bool name_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

static void shape_str(const cnb_shape *s, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)s->dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

// Reads the whole file into a NUL-terminated buffer. A NUL byte inside would silently cut a line short,
// so it is refused with its line number.
static cnb_status read_file(const char *path, char **text, cnb_error *err) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return cnb_fail(err, CNB_E_IO, "cannot open suite file '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = cnb_malloc(cap);
    if (!buf) {
        fclose(f);
        return cnb_fail(err, CNB_E_NOMEM, "out of memory reading suite file '%s'", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= SUITE_MAX_BYTES) {
                cnb_free(buf);
                fclose(f);
                return cnb_fail(err, CNB_E_IO, "suite file '%s' is larger than %u bytes", path, SUITE_MAX_BYTES);
            }
            char *grown = cnb_realloc(buf, cap * 2);
            if (!grown) {
                cnb_free(buf);
                fclose(f);
                return cnb_fail(err, CNB_E_NOMEM, "out of memory reading suite file '%s'", path);
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f) != 0;
    int saved = errno;
    fclose(f);
    if (bad) {
        cnb_free(buf);
        return cnb_fail(err, CNB_E_IO, "cannot read suite file '%s': %s", path, strerror(saved));
    }
    buf[n] = '\0';
    const char *nul = memchr(buf, '\0', n);
    if (nul) {
        int line = 1;
        for (const char *p = buf; p < nul; p++) line += *p == '\n';
        cnb_free(buf);
        return line_fail(err, CNB_E_PARSE, path, line, "contains a NUL byte");
    }
    *text = buf;
    return CNB_OK;
}

// Applies the flags field ("train", separated by spaces or commas; empty is allowed) to the layer.
static cnb_status apply_flags(char *flags, cnb_layer *layer, const char *path, int line, cnb_error *err) {
    char *p = flags;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ',')) p++;
        if (!*p) break;
        char *word = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',') p++;
        size_t len = (size_t)(p - word);
        if (len == 5 && memcmp(word, "train", 5) == 0) {
            if (layer->kind != CNB_BATCHNORM2D)
                return line_fail(err, CNB_E_PARSE, path, line, "flag 'train' applies only to BatchNorm2d, not %s",
                                 cnb_kind_name(layer->kind));
            layer->u.batchnorm2d.training = true;
        } else {
            return line_fail(err, CNB_E_PARSE, path, line, "unknown flag '%.*s' (the only flag is 'train')",
                             len > 64 ? 64 : (int)len, word);
        }
    }
    return CNB_OK;
}

// Parses one non-empty, comment-stripped line into *out; names are checked for uniqueness against
// the first n entries of prev.
static cnb_status parse_line(char *text, const char *path, int line, const cnb_suite_layer *prev, size_t n,
                             cnb_suite_layer *out, cnb_error *err) {
    char *field[6];
    int nf = 0;
    char *p = text;
    for (;;) {
        char *bar = strchr(p, '|');
        if (nf < 6) field[nf] = p;
        nf++;
        if (!bar) break;
        *bar = '\0';
        p = bar + 1;
    }
    if (nf < 4 || nf > 5)
        return line_fail(err, CNB_E_PARSE, path, line,
                         "expected 4 or 5 '|'-separated fields (name | spec | shape | count [| flags]), got %d", nf);
    for (int i = 0; i < nf; i++) field[i] = trim(field[i]);

    memset(out, 0, sizeof *out);
    out->line = line;

    const char *name = field[0];
    size_t name_len = strlen(name);
    if (name_len == 0) return line_fail(err, CNB_E_PARSE, path, line, "empty name");
    if (name_len >= sizeof out->name)
        return line_fail(err, CNB_E_PARSE, path, line, "name '%.40s...' is longer than %zu characters", name,
                         sizeof out->name - 1);
    for (size_t i = 0; i < name_len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (name_char((char)ch)) continue;
        if (isprint(ch))
            return line_fail(err, CNB_E_PARSE, path, line, "name '%s' has '%c', outside [A-Za-z0-9_.:-]", name, ch);
        return line_fail(err, CNB_E_PARSE, path, line, "name has byte 0x%02x at %zu, outside [A-Za-z0-9_.:-]", ch,
                         i + 1);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(prev[i].name, name) == 0)
            return line_fail(err, CNB_E_PARSE, path, line, "duplicate name '%s' (first on line %d)", name,
                             prev[i].line);
    copy_n(out->name, sizeof out->name, name, name_len);

    const char *spec = field[1];
    size_t spec_len = strlen(spec);
    if (spec_len >= sizeof out->spec)
        return line_fail(err, CNB_E_PARSE, path, line, "layer '%s': spec is longer than %zu characters", name,
                         sizeof out->spec - 1);
    copy_n(out->spec, sizeof out->spec, spec, spec_len);
    cnb_error e = {0};
    cnb_status st = cnb_spec_parse(spec, &out->layer, &e);
    if (st != CNB_OK) return line_fail(err, st, path, line, "layer '%s': bad spec: %s", name, e.msg);

    char msg[256];
    if (!cnb_parse_shape(field[2], &out->shape, msg, sizeof msg))
        return line_fail(err, CNB_E_PARSE, path, line, "layer '%s': bad shape: %s", name, msg);

    // Digits only: strtoll alone would take "+3", " 3" and "0x3".
    const char *c = field[3];
    bool digits = *c != '\0';
    for (const char *q = c; *q; q++) digits = digits && isdigit((unsigned char)*q);
    errno = 0;
    long long count = digits ? strtoll(c, NULL, 10) : 0;
    if (!digits || errno == ERANGE || count <= 0)
        return line_fail(err, CNB_E_PARSE, path, line, "layer '%s': count '%.40s' is not a positive integer", name, c);
    out->count = count;

    if (nf == 5 && (st = apply_flags(field[4], &out->layer, path, line, err)) != CNB_OK) return st;

    cnb_shape y;
    if ((st = cnb_output_shape(&out->layer, &out->shape, &y, &e)) != CNB_OK) {
        char s[96];
        shape_str(&out->shape, s, sizeof s);
        return line_fail(err, st, path, line, "layer '%s' on input %s: %s", name, s, e.msg);
    }
    return CNB_OK;
}

static cnb_status parse_text(char *text, cnb_suite *suite, cnb_error *err) {
    size_t cap = 0;
    int line = 0;
    char *p = text;
    while (*p) {
        line++;
        char *end = strchr(p, '\n');
        char *next = end ? end + 1 : p + strlen(p);
        if (end) *end = '\0';
        char *hash = strchr(p, '#');
        if (hash) *hash = '\0';
        char *body = trim(p);  // also drops the '\r' of CRLF files
        p = next;
        if (!*body) continue;
        if (suite->n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            cnb_suite_layer *grown = cnb_realloc(suite->layers, ncap * sizeof *grown);
            if (!grown) return cnb_fail(err, CNB_E_NOMEM, "%s:%d: out of memory", suite->path, line);
            suite->layers = grown;
            cap = ncap;
        }
        cnb_status st = parse_line(body, suite->path, line, suite->layers, suite->n, &suite->layers[suite->n], err);
        if (st != CNB_OK) return st;
        suite->n++;
    }
    if (suite->n == 0) return cnb_fail(err, CNB_E_PARSE, "%s: the suite has no layers", suite->path);
    return CNB_OK;
}

cnb_status cnb_suite_load(const char *name_or_path, const char *dir, cnb_suite *suite, cnb_error *err) {
    if (!suite) return cnb_fail(err, CNB_E_INVALID_ARG, "cnb_suite_load: suite is NULL");
    memset(suite, 0, sizeof *suite);
    if (!name_or_path || !*name_or_path) return cnb_fail(err, CNB_E_INVALID_ARG, "empty suite name");

    size_t len = strlen(name_or_path);
    bool is_path = strchr(name_or_path, '/') != NULL || ends_with(name_or_path, SUITE_EXT);
    if (is_path) {
        if (len >= sizeof suite->path)
            return cnb_fail(err, CNB_E_INVALID_ARG, "suite path '%.60s...' is longer than %zu characters",
                            name_or_path, sizeof suite->path - 1);
        copy_n(suite->path, sizeof suite->path, name_or_path, len);
    } else {
        char list[512];
        cnb_suite_list(dir, list, sizeof list);
        bool ok_name = len < sizeof suite->name;
        for (size_t i = 0; ok_name && i < len; i++) ok_name = name_char(name_or_path[i]);
        if (!ok_name || !dir || !*dir) {
            // The name is quoted as printable characters, so a newline in it cannot break the one-line message.
            char shown[64];
            size_t k = 0;
            for (; k < len && k < 60; k++) {
                unsigned char ch = (unsigned char)name_or_path[k];
                shown[k] = isprint(ch) ? (char)ch : '?';
            }
            shown[k] = '\0';
            return cnb_fail(err, CNB_E_NOT_FOUND, "unknown suite '%s' (built-in: %s)", shown, list);
        }
        int w = snprintf(suite->path, sizeof suite->path, "%s/%s%s", dir, name_or_path, SUITE_EXT);
        if (w < 0 || (size_t)w >= sizeof suite->path)
            return cnb_fail(err, CNB_E_INVALID_ARG, "suite path '%.60s/...' is longer than %zu characters", dir,
                            sizeof suite->path - 1);
        FILE *probe = fopen(suite->path, "rb");
        if (!probe) {
            int saved = errno;
            suite->path[0] = '\0';
            if (saved == ENOENT)
                return cnb_fail(err, CNB_E_NOT_FOUND, "unknown suite '%s' (built-in: %s)", name_or_path, list);
            return cnb_fail(err, CNB_E_IO, "cannot open suite '%s' in '%.60s': %s", name_or_path, dir,
                            strerror(saved));
        }
        fclose(probe);
    }

    // The suite's name is the file's base name without ".suite".
    const char *base = strrchr(suite->path, '/');
    base = base ? base + 1 : suite->path;
    size_t blen = strlen(base);
    if (ends_with(base, SUITE_EXT)) blen -= strlen(SUITE_EXT);
    copy_n(suite->name, sizeof suite->name, base, blen);

    char *text;
    cnb_status st = read_file(suite->path, &text, err);
    if (st == CNB_OK) {
        st = parse_text(text, suite, err);
        cnb_free(text);
    }
    if (st != CNB_OK) {
        cnb_free(suite->layers);
        memset(suite, 0, sizeof *suite);
    }
    return st;
}

void cnb_suite_free(cnb_suite *suite) {
    if (!suite) return;
    cnb_free(suite->layers);
    memset(suite, 0, sizeof *suite);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void cnb_suite_list(const char *dir, char *buf, size_t size) {
    if (!buf || size == 0) return;
    snprintf(buf, size, "(none)");
    DIR *d = dir && *dir ? opendir(dir) : NULL;
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *s = ent->d_name;
        size_t len = strlen(s);
        if (s[0] == '.' || !ends_with(s, SUITE_EXT) || len == strlen(SUITE_EXT)) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **grown = cnb_realloc(names, ncap * sizeof *grown);
            if (!grown) {
                oom = true;
                break;
            }
            names = grown;
            cap = ncap;
        }
        size_t stem = len - strlen(SUITE_EXT);
        if (!(names[n] = cnb_malloc(stem + 1))) {
            oom = true;
            break;
        }
        copy_n(names[n], stem + 1, s, stem);
        n++;
    }
    closedir(d);
    if (n > 0) {
        qsort(names, n, sizeof *names, cmp_str);
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < n && used < size; i++) {
            int w = snprintf(buf + used, size - used, i ? ", %s" : "%s", names[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
    } else if (oom) {
        snprintf(buf, size, "(out of memory listing them)");
    }
    for (size_t i = 0; i < n; i++) cnb_free(names[i]);
    cnb_free(names);
}
