// libFuzzer target: the suite-file reader (harness/suite.h) on arbitrary file contents (a memory file:
// see fuzz.h). A suite is refused with a one-line "file:line: reason", or every layer it holds is valid
// for its shape, named, counted, and its SPEC parses to its layer. The first bytes are also tried as a
// built-in suite's name (when they are not a path), in a folder that does not exist.
#include "tests/fuzz/fuzz.h"

#include "core/spec.h"
#include "harness/suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cnb_suite s;
    cnb_error e = {0};
    cnb_status st = cnb_suite_load(fuzz_file(data, size), NULL, &s, &e);
    if (st) {
        fuzz_check_error(st, &e);
        FUZZ_CHECK(s.n == 0 && s.layers == NULL, "a failed load left layers");
    } else {
        FUZZ_CHECK(s.n >= 1 && s.layers, "a loaded suite has no layers");
        for (size_t i = 0; i < s.n; i++) {
            const cnb_suite_layer *l = &s.layers[i];
            FUZZ_CHECK(l->name[0] && memchr(l->name, 0, sizeof l->name), "layer %zu: name", i);
            FUZZ_CHECK(l->count > 0 && l->line > 0, "layer %zu: count %lld, line %d", i, (long long)l->count, l->line);
            cnb_shape out;
            FUZZ_CHECK(cnb_output_shape(&l->layer, &l->shape, &out, &e) == CNB_OK, "layer %zu is invalid: %s", i, e.msg);
            cnb_layer again;
            FUZZ_CHECK(cnb_spec_parse(l->spec, &again, &e) == CNB_OK && again.kind == l->layer.kind,
                       "layer %zu: its spec does not parse back", i);
            for (size_t j = 0; j < i; j++) FUZZ_CHECK(strcmp(l->name, s.layers[j].name), "duplicate name %s", l->name);
        }
    }
    cnb_suite_free(&s);
    FUZZ_CHECK(s.n == 0 && s.layers == NULL, "cnb_suite_free left layers");

    char name[80];
    const size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, n);
    name[n] = 0;
    // Only names: a path could name a device that never ends (/dev/zero) or blocks (/dev/stdin), and a path is
    // quoted in messages as given, even with a newline in it.
    const size_t len = strlen(name);
    if (!strchr(name, '/') && !(len >= 6 && !strcmp(name + len - 6, ".suite"))) {
        st = cnb_suite_load(name, "/nonexistent/cnnbench-fuzz", &s, &e);
        if (st) fuzz_check_error(st, &e);
        cnb_suite_free(&s);
    }
    return 0;
}
