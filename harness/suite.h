/* Layer suites: the conv, pool and BatchNorm layers of a real network (suites/<name>.suite), one line per
 * distinct (layer, input shape) with how often the network runs it. The file format is documented in
 * suites/README.md: "name | SPEC | input shape | count [| flags]", '#' comments, blank lines ignored.
 * Every line is checked when loaded, down to the layer being valid for its shape. */
#ifndef CNB_HARNESS_SUITE_H
#define CNB_HARNESS_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include "cnnbench.h"

/* One line of a suite. */
typedef struct cnb_suite_layer {
    char name[64];      /* unique within the suite, [A-Za-z0-9_.:-]+ */
    char spec[512];     /* the SPEC as written in the file */
    cnb_layer layer;    /* the parsed SPEC, with flags applied (BatchNorm2d training) */
    cnb_shape shape;    /* input shape */
    int64_t count;      /* times the network runs this layer on this shape; whole-network totals weight by it */
    int line;           /* 1-based line number in the file, for messages */
} cnb_suite_layer;

/* A loaded suite; free with cnb_suite_free. */
typedef struct cnb_suite {
    char name[64];      /* the file's base name without ".suite" ("resnet50") */
    char path[1024];    /* the file read */
    cnb_suite_layer *layers;
    size_t n;           /* at least 1 after a successful load */
} cnb_suite;

/* Load a suite. name_or_path is a file path (it contains '/' or ends in ".suite"), or the name of a
 * built-in suite ("resnet50"), which is read from dir/<name>.suite; dir is the suites/ folder (callers
 * pass CNB_SUITES_DIR, which CMake sets to the source tree's suites/). On failure *suite is left empty
 * (safe to cnb_suite_free) and err says why: "file:line: reason" for a bad line, the list of built-in
 * suites for an unknown name. */
cnb_status cnb_suite_load(const char *name_or_path, const char *dir, cnb_suite *suite, cnb_error *err);

/* Release what cnb_suite_load allocated and empty *suite (NULL is fine). */
void cnb_suite_free(cnb_suite *suite);

/* Write the names of the built-in suites (the *.suite files in dir), sorted and comma-separated
 * ("alexnet, mobilenetv2, resnet50"), to buf; "(none)" if there are none or dir cannot be read. */
void cnb_suite_list(const char *dir, char *buf, size_t size);

#endif /* CNB_HARNESS_SUITE_H */
