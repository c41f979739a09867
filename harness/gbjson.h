/* Google Benchmark JSON output: 1.7.1 writes non-finite doubles as bare NaN/Infinity, which is not JSON. */
#ifndef CNB_HARNESS_GBJSON_H
#define CNB_HARNESS_GBJSON_H

#include <jansson.h>
#include <stddef.h>

/* A malloc'ed copy of s (len bytes) with NaN, -NaN, Infinity and -Infinity outside strings replaced by
 * null; no newline moves, so line numbers still match. NULL when out of memory. */
char *cnb_gbjson_sanitize(const char *s, size_t len, size_t *out_len);

/* json_load_file() after cnb_gbjson_sanitize(); NULL with jerr filled on failure. */
json_t *cnb_gbjson_load_file(const char *path, json_error_t *jerr);

#endif /* CNB_HARNESS_GBJSON_H */
