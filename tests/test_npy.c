// tests/test_npy.c: unit test of harness/npy.c. Round trips float32/int64 arrays of 0 to 4 dimensions and
// compares the written header with the bytes np.save produces; reads hand-made files for every refusal
// (magic, version, header syntax, dtype, order, dimensions, sizes) and provokes write failures. Files live
// in a mkdtemp() directory under /tmp that is removed at the end. Exits 0 only if every check passed.
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L  // mkdtemp, symlink, setrlimit, dirent
#endif
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/npy.h"

typedef struct tctx {
    int passed, failed, skipped;
    char dir[64];
} tctx;

typedef enum { F32, I64 } dtype;

static bool check(tctx *t, bool ok, const char *fmt, ...) {
    if (ok) {
        t->passed++;
        return true;
    }
    t->failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    return false;
}

static void skip(tctx *t, const char *what) {
    t->skipped++;
    printf("skip: %s\n", what);
}

static void path_of(const tctx *t, const char *name, char *out, size_t size) {
    snprintf(out, size, "%s/%s", t->dir, name);
}

static bool exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void write_file(tctx *t, const char *name, const void *bytes, size_t n) {
    char path[256];
    path_of(t, name, path, sizeof path);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(bytes, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = false;
    check(t, ok, "cannot write test file %s", path);
}

// A .npy file whose header text is hdr[0..hlen), declaring header length `declared` (or hlen when < 0),
// followed by ndata bytes of data.
static void craft_raw(tctx *t, const char *name, int major, int minor, const char *hdr, size_t hlen, long declared,
                      const void *data, size_t ndata) {
    size_t lenbytes = major == 1 ? 2 : 4;
    size_t total = 8 + lenbytes + hlen + ndata;
    unsigned char *buf = malloc(total);
    if (!check(t, buf != NULL, "malloc")) return;
    unsigned long d = declared < 0 ? (unsigned long)hlen : (unsigned long)declared;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major, buf[7] = (unsigned char)minor;
    for (size_t i = 0; i < lenbytes; i++) buf[8 + i] = (unsigned char)(d >> (8 * i));
    memcpy(buf + 8 + lenbytes, hdr, hlen);
    if (ndata) memcpy(buf + 8 + lenbytes + hlen, data, ndata);
    write_file(t, name, buf, total);
    free(buf);
}

// A file with header dict `dict`, padded with spaces and '\n' to a multiple of 64 bytes as NumPy does.
static void craft(tctx *t, const char *name, int major, const char *dict, const void *data, size_t ndata) {
    char hdr[512];
    size_t n = strlen(dict), pre = major == 1 ? 10 : 12;
    memcpy(hdr, dict, n);
    while ((pre + n + 1) % 64 != 0 && n < sizeof hdr - 1) hdr[n++] = ' ';
    hdr[n++] = '\n';
    craft_raw(t, name, major, 0, hdr, n, -1, data, ndata);
}

// Reading name must fail with status want and a one-line message naming the file and containing needle.
static void expect_fail(tctx *t, dtype dt, const char *name, cnb_status want, const char *needle) {
    char path[256];
    path_of(t, name, path, sizeof path);
    cnb_error err = {0};
    cnb_shape shape = {0};
    float dummy_f;
    int64_t dummy_i;
    float *yf = &dummy_f;  // non-NULL sentinels: a failed read must reset them
    int64_t *yi = &dummy_i;
    cnb_status st = dt == F32 ? cnb_npy_read_f32(path, &shape, &yf, &err) : cnb_npy_read_i64(path, &shape, &yi, &err);
    void *data = dt == F32 ? (void *)yf : (void *)yi;
    bool ok = st == want && err.code == want && data == NULL && strstr(err.msg, needle) && strstr(err.msg, path) &&
              !strchr(err.msg, '\n');
    check(t, ok, "%s (%s): got status %d (%s) message \"%s\"; want status %d (%s) with \"%s\"", name,
          dt == F32 ? "f32" : "i64", (int)st, cnb_status_name(st), err.msg, (int)want, cnb_status_name(want), needle);
    if (st == CNB_OK) free(data);
}

// ---- round trips -------------------------------------------------------------------------------------

static int64_t numel(const cnb_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

static bool same_shape(const cnb_shape *a, const cnb_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

// The layout np.save gives: header padded with spaces to a multiple of 64 bytes, ending in '\n', then data.
static void check_layout(tctx *t, const char *path, size_t data_bytes) {
    FILE *f = fopen(path, "rb");
    unsigned char pre[10] = {0};
    bool ok = f && fread(pre, 1, 10, f) == 10;
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    char last = 0;
    long size = -1;
    if (ok && fseek(f, (long)(10 + hlen - 1), SEEK_SET) == 0) last = (char)fgetc(f);
    if (ok && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (f) fclose(f);
    check(t, ok && memcmp(pre, "\x93NUMPY\x01\x00", 8) == 0 && (10 + hlen) % 64 == 0 && last == '\n' &&
                 size == (long)(10 + hlen + data_bytes),
          "%s: layout: header length %zu, last header byte %d, file size %ld for %zu data bytes", path, hlen,
          (int)last, size, data_bytes);
}

static void roundtrip(tctx *t, dtype dt, const cnb_shape *shape) {
    char name[64], path[256], desc[64];
    int o = snprintf(desc, sizeof desc, "%s (", dt == F32 ? "f32" : "i64");
    for (int i = 0; i < shape->ndim; i++)
        o += snprintf(desc + o, sizeof desc - (size_t)o, "%s%lld", i ? ", " : "", (long long)shape->dims[i]);
    snprintf(desc + o, sizeof desc - (size_t)o, "%s)", shape->ndim == 1 ? "," : "");
    snprintf(name, sizeof name, "rt_%s_%d_%lld.npy", dt == F32 ? "f32" : "i64", shape->ndim, (long long)numel(shape));
    path_of(t, name, path, sizeof path);

    int64_t n = numel(shape);
    size_t item = dt == F32 ? 4 : 8;
    float *xf = malloc((size_t)n * 4 + 1);
    int64_t *xi = malloc((size_t)n * 8 + 1);
    if (!check(t, xf && xi, "malloc")) {
        free(xf), free(xi);
        return;
    }
    // Values whose bits must survive: signed zero, infinities, NaN, extremes.
    static const float fs[] = {-0.0f, INFINITY, -INFINITY, NAN, 1e-45f, 3.4028235e38f};
    static const int64_t is[] = {INT64_MIN, INT64_MAX, -1, 0};
    for (int64_t i = 0; i < n; i++) {
        xf[i] = i < 6 ? fs[i] : (float)i * 0.5f - 3.25f;
        xi[i] = i < 4 ? is[i] : i * 1000003 - 7;
    }
    cnb_error err = {0};
    cnb_status st = dt == F32 ? cnb_npy_write_f32(path, shape, xf, &err) : cnb_npy_write_i64(path, shape, xi, &err);
    if (check(t, st == CNB_OK, "write %s: %s", desc, err.msg)) {
        check_layout(t, path, (size_t)n * item);
        cnb_shape got = {0};
        float *yf = NULL;
        int64_t *yi = NULL;
        st = dt == F32 ? cnb_npy_read_f32(path, &got, &yf, &err) : cnb_npy_read_i64(path, &got, &yi, &err);
        void *y = dt == F32 ? (void *)yf : (void *)yi;
        check(t, st == CNB_OK && y != NULL && same_shape(&got, shape) &&
                     memcmp(y, dt == F32 ? (void *)xf : (void *)xi, (size_t)n * item) == 0,
              "read back %s: status %d, %s", desc, (int)st, err.msg);
        free(y);
    }
    free(xf);
    free(xi);
}

// The header bytes np.save (NumPy 1.24) writes for these arrays: the dict, then spaces to 127 bytes, '\n'.
static void check_numpy_bytes(tctx *t, dtype dt, const cnb_shape *shape, const char *dict) {
    char path[256], want[128], got[128] = {0};
    path_of(t, "numpy_bytes.npy", path, sizeof path);
    memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
    memset(want + 10, ' ', 117);
    memcpy(want + 10, dict, strlen(dict));
    want[127] = '\n';
    float zf[24] = {0};
    int64_t zi[24] = {0};
    cnb_error err = {0};
    cnb_status st = dt == F32 ? cnb_npy_write_f32(path, shape, zf, &err) : cnb_npy_write_i64(path, shape, zi, &err);
    FILE *f = fopen(path, "rb");
    bool ok = st == CNB_OK && f && fread(got, 1, 128, f) == 128 && memcmp(got, want, 128) == 0;
    if (f) fclose(f);
    check(t, ok, "header of %s differs from np.save's: got \"%.118s\"", dict, got + 10);
    remove(path);
}

// ---- accepted variants ---------------------------------------------------------------------------------

static void expect_read_f32(tctx *t, const char *name, int ndim, const int64_t *dims, const float *want) {
    char path[256];
    path_of(t, name, path, sizeof path);
    cnb_shape s = {0};
    float *y = NULL;
    cnb_error err = {0};
    cnb_status st = cnb_npy_read_f32(path, &s, &y, &err);
    cnb_shape ws = {.ndim = ndim};
    for (int i = 0; i < ndim; i++) ws.dims[i] = dims[i];
    int64_t n = numel(&ws);
    check(t, st == CNB_OK && y && same_shape(&s, &ws) && (n == 0 || memcmp(y, want, (size_t)n * 4) == 0),
          "%s: status %d, %s", name, (int)st, err.msg);
    free(y);
}

static void test_accepted(tctx *t) {
    const float f6[6] = {1, 2, 3, 4, 5, 6};
    const int64_t d23[2] = {2, 3};

    craft(t, "v2.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f6, sizeof f6);
    expect_read_f32(t, "v2.npy", 2, d23, f6);
    craft(t, "v3.npy", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f6, sizeof f6);
    expect_read_f32(t, "v3.npy", 2, d23, f6);

    craft(t, "dq.npy", 1, "{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}", f6, sizeof f6);
    expect_read_f32(t, "dq.npy", 2, d23, f6);
    craft(t, "spaces.npy", 1, "  {\n\t'fortran_order' :False ,'shape':( 2 ,3 , ) ,\r\n 'descr':'<f4' , }", f6, sizeof f6);
    expect_read_f32(t, "spaces.npy", 2, d23, f6);
    craft(t, "longs.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", f6, sizeof f6);
    expect_read_f32(t, "longs.npy", 2, d23, f6);

    // Old NumPy aligned the data to 16 bytes only; no newline at the end is still a valid literal.
    const char *h16 = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }    ";
    craft_raw(t, "align16.npy", 1, 0, h16, strlen(h16), -1, f6, sizeof f6);
    const int64_t d6[1] = {6};
    expect_read_f32(t, "align16.npy", 1, d6, f6);

    craft(t, "zerod.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f6, 4);
    expect_read_f32(t, "zerod.npy", 0, NULL, f6);
    const int64_t d05[2] = {0, 5};
    craft(t, "empty05.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", NULL, 0);
    expect_read_f32(t, "empty05.npy", 2, d05, NULL);

    const int64_t i3[3] = {-5, 0, INT64_MAX};
    craft(t, "v3i.npy", 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i3, sizeof i3);
    char path[256];
    path_of(t, "v3i.npy", path, sizeof path);
    cnb_shape s = {0};
    int64_t *y = NULL;
    cnb_error err = {0};
    cnb_status st = cnb_npy_read_i64(path, &s, &y, &err);
    check(t, st == CNB_OK && y && s.ndim == 1 && s.dims[0] == 3 && memcmp(y, i3, sizeof i3) == 0, "v3i.npy: %s", err.msg);
    free(y);
}

// ---- refusals ------------------------------------------------------------------------------------------

#define HDR(descr, fortran, shape) "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

static void test_refused(tctx *t) {
    const float f[32] = {0};
    char path[256];

    // The file system.
    expect_fail(t, F32, "missing.npy", CNB_E_IO, strerror(ENOENT));
    path_of(t, "adir.npy", path, sizeof path);
    check(t, mkdir(path, 0700) == 0, "mkdir %s", path);
    expect_fail(t, F32, "adir.npy", CNB_E_IO, strerror(EISDIR));
    craft(t, "unreadable.npy", 1, HDR("<f4", "False", "(2,)"), f, 8);
    path_of(t, "unreadable.npy", path, sizeof path);
    chmod(path, 0);
    FILE *probe = fopen(path, "rb");
    if (probe) {  // root reads anything
        fclose(probe);
        skip(t, "unreadable file (running with permission to read it anyway)");
    } else {
        expect_fail(t, F32, "unreadable.npy", CNB_E_IO, strerror(EACCES));
    }

    // Magic, version and lengths.
    write_file(t, "empty.npy", "", 0);
    expect_fail(t, F32, "empty.npy", CNB_E_PARSE, "not a .npy file");
    write_file(t, "short.npy", "\x93NU", 3);
    expect_fail(t, F32, "short.npy", CNB_E_PARSE, "not a .npy file");
    write_file(t, "magic.npy", "\x93NUMPZ\x01\x00\x10\x00{}              ", 26);
    expect_fail(t, F32, "magic.npy", CNB_E_PARSE, "not a .npy file");
    write_file(t, "text.npy", "hello, world\n", 13);
    expect_fail(t, F32, "text.npy", CNB_E_PARSE, "not a .npy file");
    write_file(t, "noversion.npy", "\x93NUMPY\x01", 7);
    expect_fail(t, F32, "noversion.npy", CNB_E_PARSE, "truncated");
    write_file(t, "nolen.npy", "\x93NUMPY\x01\x00\x76", 9);
    expect_fail(t, F32, "nolen.npy", CNB_E_PARSE, "truncated");
    const char *h = HDR("<f4", "False", "(2,)");
    craft_raw(t, "v4.npy", 4, 0, h, strlen(h), -1, f, 8);
    expect_fail(t, F32, "v4.npy", CNB_E_PARSE, "unsupported .npy format version 4.0");
    craft_raw(t, "v11.npy", 1, 1, h, strlen(h), -1, f, 8);
    expect_fail(t, F32, "v11.npy", CNB_E_PARSE, "version 1.1");
    craft_raw(t, "v0.npy", 0, 0, h, strlen(h), -1, f, 8);
    expect_fail(t, F32, "v0.npy", CNB_E_PARSE, "version 0.0");
    craft_raw(t, "hlen.npy", 1, 0, h, strlen(h), 1000, f, 8);
    expect_fail(t, F32, "hlen.npy", CNB_E_PARSE, "header length 1000 goes past the end of the file");
    craft_raw(t, "hlen2.npy", 2, 0, h, strlen(h), 0x7ffffff0L, f, 8);
    expect_fail(t, F32, "hlen2.npy", CNB_E_PARSE, "goes past the end of the file");
    craft_raw(t, "hlen0.npy", 1, 0, "", 0, -1, NULL, 0);
    expect_fail(t, F32, "hlen0.npy", CNB_E_PARSE, "expected '{'");

    // dtype and order.
    char want[400];
    craft(t, "be.npy", 1, HDR(">f4", "False", "(2,)"), f, 8);
    path_of(t, "be.npy", path, sizeof path);
    snprintf(want, sizeof want, "%s: dtype '>f4' is big-endian; expected '<f4' (little-endian float32)", path);
    expect_fail(t, F32, "be.npy", CNB_E_PARSE, want);
    craft(t, "be8.npy", 1, HDR(">i8", "False", "(2,)"), f, 16);
    expect_fail(t, I64, "be8.npy", CNB_E_PARSE, "dtype '>i8' is big-endian; expected '<i8' (little-endian int64)");
    expect_fail(t, F32, "be8.npy", CNB_E_PARSE, "dtype '>i8' (big-endian int64) is not supported; expected '<f4'");
    craft(t, "f8.npy", 1, HDR("<f8", "False", "(2,)"), f, 16);
    expect_fail(t, F32, "f8.npy", CNB_E_PARSE,
                "dtype '<f8' (float64) is not supported; expected '<f4' (little-endian float32)");
    craft(t, "i4.npy", 1, HDR("<i4", "False", "(2,)"), f, 8);
    expect_fail(t, I64, "i4.npy", CNB_E_PARSE, "dtype '<i4' (int32) is not supported; expected '<i8'");
    craft(t, "u1.npy", 1, HDR("|u1", "False", "(2,)"), f, 2);
    expect_fail(t, F32, "u1.npy", CNB_E_PARSE, "dtype '|u1' (uint8) is not supported");
    craft(t, "obj.npy", 1, HDR("|O", "False", "(2,)"), f, 16);
    expect_fail(t, F32, "obj.npy", CNB_E_PARSE, "dtype '|O' (object) is not supported");
    craft(t, "i8.npy", 1, HDR("<i8", "False", "(2,)"), f, 16);
    expect_fail(t, F32, "i8.npy", CNB_E_PARSE, "dtype '<i8' (int64) is not supported; expected '<f4'");
    craft(t, "f4.npy", 1, HDR("<f4", "False", "(2,)"), f, 8);
    expect_fail(t, I64, "f4.npy", CNB_E_PARSE, "dtype '<f4' (float32) is not supported; expected '<i8'");
    craft(t, "struct.npy", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f, 8);
    expect_fail(t, F32, "struct.npy", CNB_E_PARSE, "structured dtype");
    craft(t, "fortran.npy", 1, HDR("<f4", "True", "(2, 3)"), f, 24);
    expect_fail(t, F32, "fortran.npy", CNB_E_PARSE, "fortran_order is True");

    // Dimensions and sizes.
    craft(t, "dims5.npy", 1, HDR("<f4", "False", "(1, 1, 1, 1, 2)"), f, 8);
    expect_fail(t, F32, "dims5.npy", CNB_E_PARSE, "shape has 5 dimensions; at most 4");
    craft(t, "neg.npy", 1, HDR("<f4", "False", "(2, -3)"), f, 8);
    expect_fail(t, F32, "neg.npy", CNB_E_PARSE, "dimension 1 of 'shape' is negative: -3");
    craft(t, "float.npy", 1, HDR("<f4", "False", "(2.5,)"), f, 8);
    expect_fail(t, F32, "float.npy", CNB_E_PARSE, "dimension 0 of 'shape' is not an integer: '2.5'");
    craft(t, "none.npy", 1, HDR("<f4", "False", "(2, None)"), f, 8);
    expect_fail(t, F32, "none.npy", CNB_E_PARSE, "dimension 1 of 'shape' is not an integer: 'None'");
    craft(t, "strdim.npy", 1, HDR("<f4", "False", "('2',)"), f, 8);
    expect_fail(t, F32, "strdim.npy", CNB_E_PARSE, "is not an integer: ''2''");
    craft(t, "hex.npy", 1, HDR("<f4", "False", "(0x2,)"), f, 8);
    expect_fail(t, F32, "hex.npy", CNB_E_PARSE, "is not an integer: '0x2'");
    craft(t, "ovf.npy", 1, HDR("<f4", "False", "(1099511627776, 1099511627776)"), f, 8);
    expect_fail(t, F32, "ovf.npy", CNB_E_OVERFLOW, "overflows");
    craft(t, "ovf0.npy", 1, HDR("<f4", "False", "(0, 4611686018427387904, 2)"), NULL, 0);
    expect_fail(t, F32, "ovf0.npy", CNB_E_OVERFLOW, "overflows");
    craft(t, "bigdim.npy", 1, HDR("<f4", "False", "(99999999999999999999,)"), f, 8);
    expect_fail(t, F32, "bigdim.npy", CNB_E_OVERFLOW, "does not fit int64");
    craft(t, "trunc.npy", 1, HDR("<f4", "False", "(4, 6)"), f, 40);
    expect_fail(t, F32, "trunc.npy", CNB_E_PARSE, "truncated: expected 96 data bytes, found 40");
    craft(t, "trunc0.npy", 1, HDR("<i8", "False", "()"), NULL, 0);
    expect_fail(t, I64, "trunc0.npy", CNB_E_PARSE, "truncated: expected 8 data bytes, found 0");
    craft(t, "trail.npy", 1, HDR("<f4", "False", "(2,)"), f, 12);
    expect_fail(t, F32, "trail.npy", CNB_E_PARSE, "4 extra bytes after the 8 data bytes");
    craft(t, "trail0.npy", 1, HDR("<f4", "False", "(0,)"), f, 1);
    expect_fail(t, F32, "trail0.npy", CNB_E_PARSE, "1 extra bytes after the 0 data bytes");

    // Header syntax: every departure from the dict literal is refused, never skipped.
    static const struct { const char *name, *dict, *needle; } bad[] = {
        {"unknown_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'foo': 1, }", "unknown key 'foo'"},
        {"missing_key.npy", "{'descr': '<f4', 'shape': (2,), }", "no 'fortran_order' key"},
        {"no_shape.npy", "{'descr': '<f4', 'fortran_order': False}", "no 'shape' key"},
        {"empty_dict.npy", "{}", "no 'descr' key"},
        {"dup_key.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
         "duplicate key 'descr'"},
        {"no_brace.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", "expected a quoted key or '}'"},
        {"junk_after.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "unexpected 'x' after the dict"},
        {"two_dicts.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }{}", "after the dict"},
        {"list_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "expected a tuple '(' for 'shape'"},
        {"int_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "'shape' (2) is not a tuple"},
        {"bare_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", "expected a tuple"},
        {"open_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2 }", "expected ',' or ')' in 'shape'"},
        {"open_shape2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", "expected a dimension in 'shape'"},
        {"double_comma.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,), }", "expected a dimension"},
        {"lone_comma.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", "expected a dimension"},
        {"int_bool.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", "expected True or False"},
        {"lower_bool.npy", "{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }", "expected True or False"},
        {"long_bool.npy", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }", "expected True or False"},
        {"unterminated.npy", "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", "expected ',' or '}'"},
        {"unterm_eol.npy", "{'descr': '<f4", "unterminated string"},
        {"escape.npy", "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,), }", "escape sequence"},
        {"mixed_quotes.npy", "{'descr\": '<f4', 'fortran_order': False, 'shape': (2,), }", "unknown key"},
        {"no_colon.npy", "{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", "expected ':' after the key"},
        {"no_comma.npy", "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", "expected ',' or '}'"},
        {"comma_first.npy", "{, 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "expected a quoted key"},
        {"unquoted_key.npy", "{descr: '<f4', 'fortran_order': False, 'shape': (2,), }", "expected a quoted key"},
        {"unquoted_descr.npy", "{'descr': f4, 'fortran_order': False, 'shape': (2,), }", "expected a quoted dtype string"},
        {"not_dict.npy", "[('descr', '<f4')]", "expected '{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        craft(t, bad[i].name, 1, bad[i].dict, f, 8);
        expect_fail(t, F32, bad[i].name, CNB_E_PARSE, bad[i].needle);
    }
    const char nul[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\0    \n";
    craft_raw(t, "nul.npy", 1, 0, nul, sizeof nul - 1, -1, f, 8);
    expect_fail(t, F32, "nul.npy", CNB_E_PARSE, "unexpected '?");

    // Arguments.
    cnb_error err = {0};
    cnb_shape s;
    float dummy = 0;
    float *y = &dummy;
    check(t, cnb_npy_read_f32(NULL, &s, &y, &err) == CNB_E_INVALID_ARG && y == NULL, "read NULL path: %s", err.msg);
    path_of(t, "f4.npy", path, sizeof path);
    check(t, cnb_npy_read_f32(path, NULL, &y, &err) == CNB_E_INVALID_ARG, "read NULL shape: %s", err.msg);
    check(t, cnb_npy_read_f32(path, &s, NULL, &err) == CNB_E_INVALID_ARG, "read NULL data: %s", err.msg);
}

// ---- writer failures -------------------------------------------------------------------------------------

static void expect_write_fail(tctx *t, const char *what, const char *path, const cnb_shape *shape, const float *x,
                              cnb_status want, const char *needle) {
    cnb_error err = {0};
    cnb_status st = cnb_npy_write_f32(path, shape, x, &err);
    check(t, st == want && err.code == want && strstr(err.msg, needle) && !strchr(err.msg, '\n'),
          "write %s: got status %d message \"%s\"; want status %d with \"%s\"", what, (int)st, err.msg, (int)want, needle);
}

static void test_write_failures(tctx *t) {
    static float x[1024];
    char path[256];
    cnb_shape s2 = {.ndim = 1, .dims = {2}};

    path_of(t, "nodir/x.npy", path, sizeof path);
    expect_write_fail(t, "into a missing directory", path, &s2, x, CNB_E_IO, strerror(ENOENT));
    expect_write_fail(t, "onto a directory", t->dir, &s2, x, CNB_E_IO, strerror(EISDIR));

    path_of(t, "bad_arg.npy", path, sizeof path);
    cnb_shape s5 = {.ndim = 5};
    expect_write_fail(t, "5 dimensions", path, &s5, x, CNB_E_INVALID_ARG, "cannot write 5 dimensions");
    cnb_shape sm = {.ndim = -1};
    expect_write_fail(t, "ndim -1", path, &sm, x, CNB_E_INVALID_ARG, "cannot write -1 dimensions");
    cnb_shape sn = {.ndim = 2, .dims = {2, -1}};
    expect_write_fail(t, "a negative dim", path, &sn, x, CNB_E_INVALID_ARG, "dimension 1 is negative (-1)");
    cnb_shape so = {.ndim = 3, .dims = {INT64_C(1) << 32, INT64_C(1) << 32, 2}};
    expect_write_fail(t, "an overflowing shape", path, &so, x, CNB_E_OVERFLOW, "overflows");
    expect_write_fail(t, "NULL data", path, &s2, NULL, CNB_E_INVALID_ARG, "data is NULL");
    expect_write_fail(t, "NULL shape", path, NULL, x, CNB_E_INVALID_ARG, "must not be NULL");
    check(t, !exists(path), "a refused write created %s", path);
    cnb_shape s0 = {.ndim = 1, .dims = {0}};
    cnb_error err = {0};
    check(t, cnb_npy_write_f32(path, &s0, NULL, &err) == CNB_OK, "write 0 elements from NULL: %s", err.msg);

    // A file-size limit makes the data fail to reach the file: the partial file must be removed.
    path_of(t, "fsize.npy", path, sizeof path);
    struct rlimit old;
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        struct rlimit lim = old;
        lim.rlim_cur = 1000;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);  // else the kernel kills us instead of failing write()
        if (prev != SIG_ERR && setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            cnb_shape big = {.ndim = 2, .dims = {32, 32}};
            expect_write_fail(t, "past RLIMIT_FSIZE", path, &big, x, CNB_E_IO, strerror(EFBIG));
            setrlimit(RLIMIT_FSIZE, &old);
            check(t, !exists(path), "the partial file %s was not removed", path);
        } else {
            skip(t, "RLIMIT_FSIZE write failure (cannot set the limit)");
        }
        if (prev != SIG_ERR) signal(SIGXFSZ, prev);
    }

    // /dev/full fails at fclose with ENOSPC; reached through a link, only the link could be lost by mistake.
    struct stat sb;
    path_of(t, "full.npy", path, sizeof path);
    if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode) && symlink("/dev/full", path) == 0) {
        expect_write_fail(t, "to /dev/full", path, &s2, x, CNB_E_IO, strerror(ENOSPC));
        check(t, exists(path) && stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode),
              "a failed write to a device removed it or the link to it");
    } else {
        skip(t, "/dev/full write failure (no /dev/full)");
    }
}

// ---- main ------------------------------------------------------------------------------------------------

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(path);
        else remove(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void) {
    tctx t = {0};
    snprintf(t.dir, sizeof t.dir, "/tmp/test_npy.XXXXXX");
    if (!mkdtemp(t.dir)) {
        printf("npy: cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }

    static const cnb_shape shapes[] = {
        {.ndim = 0}, {.ndim = 1, .dims = {0}}, {.ndim = 1, .dims = {5}},
        {.ndim = 2, .dims = {2, 3}}, {.ndim = 4, .dims = {1, 2, 3, 4}}, {.ndim = 3, .dims = {3, 0, 2}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        roundtrip(&t, F32, &shapes[i]);
        roundtrip(&t, I64, &shapes[i]);
    }
    check_numpy_bytes(&t, F32, &shapes[3], "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    check_numpy_bytes(&t, I64, &shapes[0], "{'descr': '<i8', 'fortran_order': False, 'shape': (), }");
    check_numpy_bytes(&t, F32, &shapes[1], "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }");
    check_numpy_bytes(&t, I64, &shapes[4], "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2, 3, 4), }");

    test_accepted(&t);
    test_refused(&t);
    test_write_failures(&t);

    remove_tree(t.dir);
    printf("npy: %d passed, %d failed", t.passed, t.failed);
    if (t.skipped) printf(", %d skipped", t.skipped);
    printf("\n");
    return t.failed ? 1 : 0;
}
