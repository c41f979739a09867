/* Reading Google Benchmark's JSON output, which is not quite JSON: 1.7.1 writes non-finite doubles as bare
 * NaN / Infinity tokens. Shared by `bench` (which adds its metadata to the file) and `compare`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/gbjson.h"

static bool token_at(const char *s, size_t i, size_t len, const char *tok) {
    size_t k = strlen(tok);
    if (len - i < k || memcmp(s + i, tok, k)) return false;
    char next = i + k < len ? s[i + k] : ' ';
    return !((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9'));
}

/* Google Benchmark writes non-finite doubles as bare NaN, -NaN, Infinity and -Infinity (a rate counter
 * of a run stopped by SkipWithError is one), which is not JSON. Outside strings they become null; no
 * newline moves, so jansson's line numbers still match the file. Returns a malloc'ed copy or NULL. */
char *cnb_gbjson_sanitize(const char *s, size_t len, size_t *out_len) {
    static const char *const toks[] = {"-Infinity", "Infinity", "-NaN", "NaN"};
    // "NaN" -> "null" is the only growth: at most one byte per three.
    char *out = malloc(len + len / 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; i < len;) {
        char c = s[i];
        if (in_str) {
            out[o++] = s[i++];
            if (c == '\\' && i < len) out[o++] = s[i++];
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        bool replaced = false;
        if (c == '-' || c == 'N' || c == 'I') {
            for (size_t t = 0; t < sizeof toks / sizeof toks[0] && !replaced; t++) {
                if (token_at(s, i, len, toks[t])) {
                    memcpy(out + o, "null", 4);
                    o += 4;
                    i += strlen(toks[t]);
                    replaced = true;
                }
            }
        }
        if (!replaced) out[o++] = s[i++];
    }
    *out_len = o;
    return out;
}

json_t *cnb_gbjson_load_file(const char *path, json_error_t *jerr) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (jerr) snprintf(jerr->text, sizeof jerr->text, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        char *g = realloc(buf, cap *= 2);
        if (!g) {
            free(buf);
            buf = NULL;
        } else {
            buf = g;
        }
    }
    fclose(f);
    size_t clean_len = 0;
    char *clean = buf ? cnb_gbjson_sanitize(buf, len, &clean_len) : NULL;
    free(buf);
    if (!clean) {
        if (jerr) snprintf(jerr->text, sizeof jerr->text, "out of memory");
        return NULL;
    }
    json_t *root = json_loadb(clean, clean_len, 0, jerr);
    free(clean);
    return root;
}
