// tests/test_suite.c: unit test of harness/suite.c. Every committed suite (argv[1], the suites/ folder) loads
// by path and by name, totals match the networks, and every layer is valid and runnable by its naive.scalar
// reference; then hand-written files in a mkdtemp() directory under /tmp check each refusal's "file:line: reason".
// Prints failures and "suite: N passed, M failed"; exits 0 only if every check passed.
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L  // mkdtemp, opendir, rmdir, unlink
#endif
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnbench.h"
#include "harness/suite.h"

typedef struct tally {
    int passed, failed;
} tally;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool check(tally *t, bool ok, const char *fmt, ...) {
    if (ok) {
        t->passed++;
        return true;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return false;
}

/* ---- the committed suites ---- */

// The networks' layer-call totals: ResNet-50 53 conv + 53 BN + max + avg pool; VGG-16 13 conv + 5 max +
// 1 adaptive; MobileNetV2 52 conv + 52 BN + the final average; AlexNet 5 conv + 3 max + 1 adaptive;
// the TCN 8 levels x 2 convs + one 1x1 downsample.
static const struct {
    const char *name;
    int64_t total;
} k_builtin[] = {
    {"alexnet", 9}, {"mobilenetv2", 105}, {"resnet50", 108}, {"tcn", 17}, {"vgg16", 19},
};

// The reference of a layer kind is "<kind in lower case>.naive.scalar".
static long reference_impl(cnb_layer_kind k) {
    char name[64];
    const char *kn = cnb_kind_name(k);
    size_t i = 0;
    for (; kn[i] && i < 40; i++) name[i] = (char)tolower((unsigned char)kn[i]);
    snprintf(name + i, sizeof name - i, ".naive.scalar");
    return cnb_impl_find(name);
}

static void check_layers(tally *t, const cnb_suite *s) {
    for (size_t i = 0; i < s->n; i++) {
        const cnb_suite_layer *l = &s->layers[i];
        cnb_shape y;
        cnb_error e = {0};
        check(t, cnb_output_shape(&l->layer, &l->shape, &y, &e) == CNB_OK, "%s:%d %s: %s", s->path, l->line,
              l->name, e.msg);
        check(t, l->count > 0, "%s:%d %s: count %lld", s->path, l->line, l->name, (long long)l->count);
        check(t, l->shape.dims[0] == 1, "%s:%d %s: batch %lld, suites use batch 1", s->path, l->line, l->name,
              (long long)l->shape.dims[0]);
        check(t, l->layer.kind != CNB_BATCHNORM2D || !l->layer.u.batchnorm2d.training,
              "%s:%d %s: committed suites use eval-mode BatchNorm2d", s->path, l->line, l->name);
        long ref = reference_impl(l->layer.kind);
        if (check(t, ref >= 0, "%s: no reference implementation of %s", l->name, cnb_kind_name(l->layer.kind))) {
            e.msg[0] = '\0';
            check(t, cnb_impl_check((size_t)ref, &l->layer, &l->shape, &e) == CNB_OK,
                  "%s:%d %s: the reference refuses it: %s", s->path, l->line, l->name, e.msg);
        }
        for (size_t j = 0; j < i; j++)
            check(t, strcmp(s->layers[j].name, l->name) != 0, "%s: name %s twice", s->path, l->name);
    }
}

static void test_committed(tally *t, const char *dir) {
    // Every *.suite in the folder loads by its path.
    DIR *d = opendir(dir);
    if (!check(t, d != NULL, "cannot open suites folder '%s'", dir)) return;
    int files = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (ent->d_name[0] == '.' || len <= 6 || strcmp(ent->d_name + len - 6, ".suite") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        cnb_suite s;
        cnb_error e = {0};
        files++;
        if (check(t, cnb_suite_load(path, dir, &s, &e) == CNB_OK, "load %s: %s", path, e.msg)) {
            check(t, s.n > 0, "%s has no layers", path);
            check(t, strncmp(s.name, ent->d_name, len - 6) == 0 && s.name[len - 6] == '\0', "%s: name '%s'", path,
                  s.name);
            check_layers(t, &s);
        }
        cnb_suite_free(&s);
    }
    closedir(d);
    check(t, files >= 5, "only %d suite files in %s", files, dir);

    // The built-in ones load by name and count the whole network.
    for (size_t i = 0; i < sizeof k_builtin / sizeof k_builtin[0]; i++) {
        cnb_suite s;
        cnb_error e = {0};
        if (!check(t, cnb_suite_load(k_builtin[i].name, dir, &s, &e) == CNB_OK, "load %s: %s", k_builtin[i].name,
                   e.msg))
            continue;
        int64_t total = 0;
        for (size_t j = 0; j < s.n; j++) total += s.layers[j].count;
        check(t, total == k_builtin[i].total, "%s: %lld layer calls, expected %lld", k_builtin[i].name,
              (long long)total, (long long)k_builtin[i].total);
        check(t, strcmp(s.name, k_builtin[i].name) == 0, "%s: suite name '%s'", k_builtin[i].name, s.name);
        cnb_suite_free(&s);
    }

    // Spot checks of the architectures.
    cnb_suite s;
    cnb_error e = {0};
    if (cnb_suite_load("resnet50", dir, &s, &e) == CNB_OK) {
        const cnb_suite_layer *l = &s.layers[0];
        check(t, !strcmp(l->name, "conv1") && l->layer.kind == CNB_CONV2D && l->layer.u.conv.kernel_size[0] == 7 &&
                     l->layer.u.conv.stride[0] == 2 && l->shape.ndim == 4 && l->shape.dims[1] == 3 &&
                     l->shape.dims[2] == 224,
              "resnet50: first layer is not conv1 7x7/2 on 1,3,224,224");
        bool v15 = false;  // v1.5: the strided conv of layer2.0 is the 3x3, not the first 1x1
        for (size_t j = 0; j < s.n; j++)
            if (!strcmp(s.layers[j].name, "layer2.0.conv2"))
                v15 = s.layers[j].layer.u.conv.kernel_size[0] == 3 && s.layers[j].layer.u.conv.stride[0] == 2;
        check(t, v15, "resnet50: layer2.0.conv2 is not a 3x3 stride-2 conv (Bottleneck v1.5)");
        cnb_suite_free(&s);
    }
    if (cnb_suite_load("mobilenetv2", dir, &s, &e) == CNB_OK) {
        int depthwise = 0;
        for (size_t j = 0; j < s.n; j++) {
            const cnb_layer *l = &s.layers[j].layer;
            depthwise += l->kind == CNB_CONV2D && l->u.conv.groups > 1 && l->u.conv.groups == l->u.conv.in_channels;
        }
        check(t, depthwise > 0, "mobilenetv2: no depthwise conv");
        cnb_suite_free(&s);
    }
    if (cnb_suite_load("tcn", dir, &s, &e) == CNB_OK) {
        int64_t max_dil = 0;
        bool all_conv1d = true;
        for (size_t j = 0; j < s.n; j++) {
            all_conv1d = all_conv1d && s.layers[j].layer.kind == CNB_CONV1D;
            if (s.layers[j].layer.u.conv.dilation[0] > max_dil) max_dil = s.layers[j].layer.u.conv.dilation[0];
        }
        check(t, all_conv1d && max_dil == 128, "tcn: not all Conv1d or largest dilation %lld", (long long)max_dil);
        cnb_suite_free(&s);
    }
}

/* ---- hand-written files ---- */

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static const char *k_conv = "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)";

// Loads text from dir/name and expects the status and a message that starts "path:line: " (line 0: just
// "path: ") and contains want.
static void expect_error(tally *t, const char *dir, const char *name, const char *text, cnb_status want_st,
                         int line, const char *want) {
    char path[512], prefix[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!check(t, write_file(path, text), "cannot write %s", path)) return;
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", path);
    cnb_suite s;
    cnb_error e = {0};
    cnb_status st = cnb_suite_load(path, NULL, &s, &e);
    check(t, st == want_st, "%s: status %s, expected %s (%s)", name, cnb_status_name(st), cnb_status_name(want_st),
          e.msg);
    check(t, strncmp(e.msg, prefix, strlen(prefix)) == 0 && strstr(e.msg, want) != NULL,
          "%s: message '%s', expected '%s...%s'", name, e.msg, prefix, want);
    check(t, s.n == 0 && s.layers == NULL, "%s: suite not left empty after a failure", name);
    check(t, strchr(e.msg, '\n') == NULL, "%s: message has a newline: %s", name, e.msg);
    cnb_suite_free(&s);
    unlink(path);
}

static void test_good_file(tally *t, const char *dir) {
    char path[512], text[2048];
    snprintf(path, sizeof path, "%s/good.suite", dir);
    snprintf(text, sizeof text,
             "# a comment line\n"
             "\n"
             "   \t\n"
             "stem.conv | %s | 1,3,16,16 | 2   # trailing comment\r\n"
             "stem:bn-1 | BatchNorm2d(8, eps=1e-05, momentum=0.1) | 1,8,16,16 | 1 | train\n"
             "bn_eval | BatchNorm2d(8) | 2,8,4,4 | 3 |\n"
             "pool | MaxPool2d(2) | 8,16,16 | 7",  // unbatched input, no final newline
             k_conv);
    if (!check(t, write_file(path, text), "cannot write %s", path)) return;
    cnb_suite s;
    cnb_error e = {0};
    if (check(t, cnb_suite_load(path, NULL, &s, &e) == CNB_OK, "good.suite: %s", e.msg)) {
        check(t, s.n == 4, "good.suite: %zu layers, expected 4", s.n);
        check(t, !strcmp(s.name, "good") && !strcmp(s.path, path), "good.suite: name '%s' path '%s'", s.name, s.path);
        if (s.n == 4) {
            const cnb_suite_layer *l = s.layers;
            check(t, !strcmp(l[0].name, "stem.conv") && !strcmp(l[0].spec, k_conv) && l[0].count == 2 &&
                         l[0].line == 4 && l[0].layer.kind == CNB_CONV2D && l[0].shape.ndim == 4 &&
                         l[0].shape.dims[3] == 16,
                  "good.suite line 4 read wrong: '%s' '%s' count %lld line %d", l[0].name, l[0].spec,
                  (long long)l[0].count, l[0].line);
            check(t, !strcmp(l[1].name, "stem:bn-1") && l[1].layer.kind == CNB_BATCHNORM2D &&
                         l[1].layer.u.batchnorm2d.training && l[1].line == 5,
                  "good.suite line 5: the train flag was not applied");
            check(t, l[2].layer.kind == CNB_BATCHNORM2D && !l[2].layer.u.batchnorm2d.training && l[2].count == 3,
                  "good.suite line 6: BatchNorm2d should be eval with an empty flags field");
            check(t, l[3].layer.kind == CNB_MAXPOOL2D && l[3].shape.ndim == 3 && l[3].count == 7 && l[3].line == 7,
                  "good.suite line 7 read wrong");
        }
    }
    cnb_suite_free(&s);
    check(t, s.layers == NULL && s.n == 0, "cnb_suite_free did not empty the suite");
    cnb_suite_free(NULL);
    unlink(path);
}

static void test_errors(tally *t, const char *dir, const char *suites_dir) {
    char text[2048];
    const char *head = "# header\n\nok | BatchNorm2d(4) | 1,4,2,2 | 1\n";  // the bad line is line 4

#define BAD(file, line4, st, want)                                   \
    do {                                                             \
        snprintf(text, sizeof text, "%s%s\n", head, line4);          \
        expect_error(t, dir, file, text, st, 4, want);               \
    } while (0)

    char l[1024];
    snprintf(l, sizeof l, "c | Conv2d(3, 8, kernel_size=(3, 3), strid=2) | 1,3,8,8 | 1");
    BAD("spec_kw.suite", l, CNB_E_PARSE, "layer 'c': bad spec: ");
    BAD("spec_kind.suite", "c | Conv3d(3, 8, 3) | 1,3,8,8,8 | 1", CNB_E_PARSE, "bad spec: ");
    BAD("spec_paren.suite", "c | Conv2d(3, 8, 3 | 1,3,8,8 | 1", CNB_E_PARSE, "bad spec: ");
    snprintf(l, sizeof l, "c | %s | 1,3,x,8 | 1", k_conv);
    BAD("shape_x.suite", l, CNB_E_PARSE, "layer 'c': bad shape: ");
    snprintf(l, sizeof l, "c | %s |  | 1", k_conv);
    BAD("shape_empty.suite", l, CNB_E_PARSE, "bad shape: ");
    snprintf(l, sizeof l, "c | %s | 1,1,1,1,1 | 1", k_conv);
    BAD("shape_5d.suite", l, CNB_E_PARSE, "bad shape: ");
    const char *counts[] = {"0", "-1", "abc", "1.5", "", "+3", "0x3", "99999999999999999999", "2 3"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        char file[64];
        snprintf(file, sizeof file, "count%zu.suite", i);
        snprintf(l, sizeof l, "c | %s | 1,3,8,8 | %s", k_conv, counts[i]);
        BAD(file, l, CNB_E_PARSE, "is not a positive integer");
    }
    BAD("dup.suite", "ok | BatchNorm2d(4) | 1,4,3,3 | 1", CNB_E_PARSE, "duplicate name 'ok' (first on line 3)");
    BAD("fields3.suite", "c | BatchNorm2d(4) | 1,4,2,2", CNB_E_PARSE, "got 3");
    BAD("fields6.suite", "c | BatchNorm2d(4) | 1,4,2,2 | 1 | train | x", CNB_E_PARSE, "got 6");
    BAD("fields1.suite", "just_a_name", CNB_E_PARSE, "got 1");
    BAD("flag.suite", "c | BatchNorm2d(4) | 1,4,2,2 | 1 | fast", CNB_E_PARSE, "unknown flag 'fast'");
    BAD("flag2.suite", "c | BatchNorm2d(4) | 1,4,2,2 | 1 | train, eval", CNB_E_PARSE, "unknown flag 'eval'");
    snprintf(l, sizeof l, "c | %s | 1,3,8,8 | 1 | train", k_conv);
    BAD("flag_conv.suite", l, CNB_E_PARSE, "flag 'train' applies only to BatchNorm2d, not Conv2d");
    BAD("name_space.suite", "a b | BatchNorm2d(4) | 1,4,2,2 | 1", CNB_E_PARSE, "name 'a b' has ' '");
    BAD("name_slash.suite", "a/b | BatchNorm2d(4) | 1,4,2,2 | 1", CNB_E_PARSE, "outside [A-Za-z0-9_.:-]");
    BAD("name_empty.suite", " | BatchNorm2d(4) | 1,4,2,2 | 1", CNB_E_PARSE, "empty name");
    BAD("name_long.suite",
        "a123456789b123456789c123456789d123456789e123456789f123456789g123 | BatchNorm2d(4) | 1,4,2,2 | 1",
        CNB_E_PARSE, "is longer than 63 characters");

    // Parsed fine, but PyTorch would refuse the layer on that shape: cnb_output_shape's message follows.
    snprintf(l, sizeof l, "c | %s | 1,4,8,8 | 1", k_conv);
    BAD("chan.suite", l, CNB_E_INVALID_ARG, "layer 'c' on input 1,4,8,8: ");
    BAD("kernel.suite", "c | Conv2d(3, 8, kernel_size=(5, 5)) | 1,3,2,2 | 1", CNB_E_INVALID_ARG,
        "layer 'c' on input 1,3,2,2: ");
    BAD("groups.suite", "c | Conv2d(3, 8, 3, groups=2) | 1,3,8,8 | 1", CNB_E_INVALID_ARG, "on input 1,3,8,8: ");
    BAD("pool.suite", "p | MaxPool2d(2, padding=2) | 1,3,8,8 | 1", CNB_E_INVALID_ARG, "on input 1,3,8,8: ");
    BAD("bn_train.suite", "b | BatchNorm2d(4) | 1,4,1,1 | 1 | train", CNB_E_INVALID_ARG,
        "more than 1 value per channel");
    BAD("bn_chan.suite", "b | BatchNorm2d(4) | 1,5,2,2 | 1", CNB_E_INVALID_ARG, "on input 1,5,2,2: ");
    BAD("conv1d.suite", "t | Conv1d(4, 4, 3) | 1,4,8,8 | 1", CNB_E_INVALID_ARG, "on input 1,4,8,8: ");
#undef BAD

    // The first bad line wins, and line numbers count comments, blank lines and CRLF lines.
    expect_error(t, dir, "first.suite", "# x\r\n\r\na | BatchNorm2d(4) | 1,4,2,2 | 0\r\nb | Conv9 | 1 | 1\r\n",
                 CNB_E_PARSE, 3, "count '0'");
    {  // A NUL byte inside a line: written with fwrite, as fputs would stop at it.
        char path[512];
        snprintf(path, sizeof path, "%s/nul.suite", dir);
        FILE *f = fopen(path, "wb");
        if (check(t, f != NULL, "cannot write %s", path)) {
            static const char bytes[] = "a | BatchNorm2d(4) | 1,4,2,2 | 1\n\nb | Batch\0Norm2d(4) | 1,4,2,2 | 1\n";
            fwrite(bytes, 1, sizeof bytes - 1, f);
            fclose(f);
            cnb_suite s;
            cnb_error e = {0};
            char want[600];
            snprintf(want, sizeof want, "%s:3: contains a NUL byte", path);
            check(t, cnb_suite_load(path, NULL, &s, &e) == CNB_E_PARSE && !strcmp(e.msg, want),
                  "NUL byte: '%s', expected '%s'", e.msg, want);
            cnb_suite_free(&s);
            unlink(path);
        }
    }

    // No layers at all.
    expect_error(t, dir, "empty.suite", "", CNB_E_PARSE, 0, "the suite has no layers");
    expect_error(t, dir, "comments.suite", "# only\n\n   # comments\n", CNB_E_PARSE, 0, "the suite has no layers");

    // Unknown names list the built-in suites; a missing path is an i/o error naming it.
    cnb_suite s;
    cnb_error e = {0};
    cnb_status st = cnb_suite_load("nosuch", suites_dir, &s, &e);
    check(t, st == CNB_E_NOT_FOUND && strstr(e.msg, "unknown suite 'nosuch' (built-in: ") &&
                 strstr(e.msg, "alexnet, mobilenetv2, resnet50, tcn, vgg16"),
          "unknown suite: %s '%s'", cnb_status_name(st), e.msg);
    cnb_suite_free(&s);
    st = cnb_suite_load("res net", suites_dir, &s, &e);
    check(t, st == CNB_E_NOT_FOUND && strstr(e.msg, "unknown suite 'res net' (built-in: ") &&
                 strstr(e.msg, "resnet50"),
          "odd suite name: %s '%s'", cnb_status_name(st), e.msg);
    st = cnb_suite_load("resnet50", dir, &s, &e);  // a folder without that file
    check(t, st == CNB_E_NOT_FOUND && strstr(e.msg, "unknown suite 'resnet50' (built-in: (none))"),
          "unknown in empty folder: %s '%s'", cnb_status_name(st), e.msg);
    st = cnb_suite_load("resnet50", NULL, &s, &e);
    check(t, st == CNB_E_NOT_FOUND, "no folder: %s '%s'", cnb_status_name(st), e.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/missing.suite", dir);
    st = cnb_suite_load(path, suites_dir, &s, &e);
    check(t, st == CNB_E_IO && strstr(e.msg, "cannot open suite file") && strstr(e.msg, path),
          "missing file: %s '%s'", cnb_status_name(st), e.msg);
    st = cnb_suite_load("", suites_dir, &s, &e);
    check(t, st == CNB_E_INVALID_ARG, "empty name: %s '%s'", cnb_status_name(st), e.msg);
    check(t, cnb_suite_load("x", suites_dir, NULL, &e) == CNB_E_INVALID_ARG, "NULL suite accepted");

    // cnb_suite_list: sorted names (the five, in order, whatever else is added), truncation, unreadable folder.
    char buf[256];
    cnb_suite_list(suites_dir, buf, sizeof buf);
    const char *at = buf;
    bool in_order = true;
    for (size_t i = 0; i < sizeof k_builtin / sizeof k_builtin[0] && in_order; i++) {
        const char *hit = strstr(at, k_builtin[i].name);
        in_order = hit != NULL;
        if (hit) at = hit;
    }
    check(t, in_order && strstr(buf, ".suite") == NULL, "cnb_suite_list: '%s'", buf);
    char small[8];
    cnb_suite_list(suites_dir, small, sizeof small);
    check(t, strlen(small) == sizeof small - 1 && !strncmp(small, buf, sizeof small - 1),
          "cnb_suite_list truncated: '%s'", small);
    cnb_suite_list("/nonexistent/cnb", buf, sizeof buf);
    check(t, !strcmp(buf, "(none)"), "cnb_suite_list of a missing folder: '%s'", buf);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_suite SUITES_DIR\n");
        return 2;
    }
    tally t = {0, 0};
    test_committed(&t, argv[1]);

    char dir[] = "/tmp/cnb_test_suite_XXXXXX";
    if (check(&t, mkdtemp(dir) != NULL, "mkdtemp failed")) {
        test_good_file(&t, dir);
        test_errors(&t, dir, argv[1]);
        check(&t, rmdir(dir) == 0, "temp folder %s not empty at the end", dir);
    }
    printf("suite: %d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
