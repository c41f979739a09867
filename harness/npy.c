// harness/npy.c: .npy reader and writer, after NumPy's numpy/lib/format.py (format versions 1.0, 2.0, 3.0).
// A file is "\x93NUMPY", major, minor, a little-endian header length (2 bytes in 1.0, 4 in 2.0/3.0), a
// Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with spaces and '\n',
// then the raw C-order data. Only '<f4' and '<i8' are accepted; the host must be little-endian.
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L  // fileno(), fstat()
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/status.h"
#include "harness/npy.h"

// Status codes: CNB_E_IO when the file cannot be opened, read, created or written (the reason from
// strerror); CNB_E_PARSE for every problem with the file's content (magic, version, header syntax, dtype,
// order, dimensions, size mismatch); CNB_E_OVERFLOW when the shape's byte count does not fit int64 or
// size_t; CNB_E_NOMEM when the data cannot be allocated; CNB_E_INVALID_ARG for bad arguments.

_Static_assert(sizeof(float) == 4, "'<f4' data is copied straight into float");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies little-endian '<f4' / '<i8' bytes as they are: it needs a little-endian host"
#endif

typedef struct npy_dtype {
    const char *descr;  // "<f4"
    const char *name;   // "float32"
    size_t itemsize;
} npy_dtype;

static const npy_dtype k_f32 = {"<f4", "float32", 4};
static const npy_dtype k_i64 = {"<i8", "int64", 8};

static const char k_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
enum {
    NPY_MAGIC_LEN = 6,
    NPY_ALIGN = 64,                    // data offset alignment NumPy's writer uses
    NPY_GROWTH_DIGITS = 21,            // NumPy leaves room for the first dim to grow to 21 digits
    NPY_MAX_HEADER = 1 << 20,          // a '<f4'/'<i8' header is ~128 bytes; refuse absurd lengths
};
#define NPY_CHUNK ((size_t)1 << 20)     // fread/fwrite at most 1 MiB at a time

// ---- messages ----------------------------------------------------------------------------------------

// Copy at most 24 characters of s[0..n) into out, non-printables as '?', with "..." if cut, so that
// quoted file content cannot break the one-line message.
static void sanitize(const char *s, size_t n, char *out, size_t size) {
    size_t o = 0;
    size_t lim = n > 24 ? 24 : n;
    for (size_t i = 0; i < lim && o + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    for (int k = 0; n > lim && k < 3 && o + 1 < size; k++) out[o++] = '.';
    out[o] = '\0';
}

// A readable name for a dtype descr ("float64", "big-endian int32"), or "" when it is not a simple one.
static void dtype_desc(const char *d, size_t n, char *out, size_t size) {
    out[0] = '\0';
    const char *order = "";
    if (n > 0 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        if (d[0] == '>') order = "big-endian ";
        d++, n--;
    }
    if (n < 1 || n > 4) return;
    int bytes = 0;
    for (size_t i = 1; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return;
        bytes = bytes * 10 + (d[i] - '0');
    }
    const char *kind = NULL;
    int bits = bytes * 8;
    switch (d[0]) {
    case 'f': kind = "float"; break;
    case 'i': kind = "int"; break;
    case 'u': kind = "uint"; break;
    case 'c': kind = "complex"; break;
    case 'b': kind = "bool"; bits = 0; break;
    case 'O': kind = "object"; bits = 0; break;
    case 'S': kind = "bytes"; bits = 0; break;
    case 'U': kind = "str"; bits = 0; break;
    case 'V': kind = "void"; bits = 0; break;
    case 'M': kind = "datetime64"; bits = 0; break;
    case 'm': kind = "timedelta64"; bits = 0; break;
    default: return;
    }
    if (bits) snprintf(out, size, " (%s%s%d)", order, kind, bits);
    else snprintf(out, size, " (%s%s)", order, kind);
}

// ---- the header dict ---------------------------------------------------------------------------------

// The header is a Python literal that NumPy reads with ast.literal_eval; this is the subset np.save writes
// (and older NumPy's "3L" longs), parsed token by token so that anything else is refused, not skipped.
typedef struct hdr_parser {
    const char *s;   // header text, not NUL-terminated (it may contain NULs)
    size_t len, pos;
    const char *path;
    cnb_error *err;
} hdr_parser;

typedef struct npy_header {
    const char *descr;  // points into the header text
    size_t descr_len;
    bool fortran;
    int ndim;           // as many as the file lists, possibly > CNB_MAX_DIMS
    int64_t dims[CNB_MAX_DIMS];
    bool has_descr, has_fortran, has_shape;
} npy_header;

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_word(char c) { return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// At the end peek() gives '\0', which matches no expected token, so callers need not test at_end() too.
static char peek(const hdr_parser *p) { return p->pos < p->len ? p->s[p->pos] : '\0'; }
static bool at_end(const hdr_parser *p) { return p->pos >= p->len; }

static void skip_ws(hdr_parser *p) {
    while (p->pos < p->len && is_ws(p->s[p->pos])) p->pos++;
}

// The token at the current position, for messages: 'abc' or "the end of the header".
static void here(const hdr_parser *p, char *out, size_t size) {
    if (at_end(p)) {
        snprintf(out, size, "the end of the header");
        return;
    }
    size_t end = p->pos + 1;
    while (end < p->len && !is_ws(p->s[end])) end++;
    char q[32];
    sanitize(p->s + p->pos, end - p->pos, q, sizeof q);
    snprintf(out, size, "'%s'", q);
}

static cnb_status expected(const hdr_parser *p, const char *what) {
    char near[48];
    here(p, near, sizeof near);
    return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: expected %s at byte %zu, found %s", p->path, what,
                    p->pos, near);
}

// A quoted string without escapes ('...' or "..."); *s/*n is its content.
static cnb_status parse_string(hdr_parser *p, const char *what, const char **s, size_t *n) {
    char q = peek(p);
    if (at_end(p) || (q != '\'' && q != '"')) return expected(p, what);
    size_t start = ++p->pos;
    while (p->pos < p->len && p->s[p->pos] != q) {
        char c = p->s[p->pos];
        if (c == '\\')
            return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: escape sequence in a string at byte %zu",
                            p->path, p->pos);
        if (c == '\n' || c == '\r') break;
        p->pos++;
    }
    if (p->pos >= p->len || p->s[p->pos] != q)
        return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: unterminated string starting at byte %zu", p->path,
                        start - 1);
    *s = p->s + start;
    *n = p->pos - start;
    p->pos++;
    return CNB_OK;
}

static cnb_status parse_bool(hdr_parser *p, bool *v) {
    static const char *const words[2] = {"False", "True"};
    for (int b = 0; b < 2; b++) {
        size_t n = strlen(words[b]);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[b], n) == 0 &&
            (p->pos + n == p->len || !is_word(p->s[p->pos + n]))) {
            p->pos += n;
            *v = b;
            return CNB_OK;
        }
    }
    return expected(p, "True or False for 'fortran_order'");
}

// One dimension: a non-negative decimal integer (old NumPy under Python 2 wrote longs as "3L").
static cnb_status parse_dim(hdr_parser *p, int index, int64_t *v) {
    size_t start = p->pos;
    bool neg = peek(p) == '-';
    if (neg) p->pos++;
    int64_t x = 0;
    bool big = false;
    size_t digits = 0;
    while (!at_end(p) && is_digit(peek(p))) {
        if (!big && (!cnb_mul_ok(x, 10, &x) || !cnb_add_ok(x, peek(p) - '0', &x))) big = true;
        p->pos++, digits++;
    }
    if (digits > 0 && (peek(p) == 'L' || peek(p) == 'l')) p->pos++;
    // A token that goes on (2.5, 1e3, 0x10, None, 'a') is not an integer literal.
    bool clean = digits > 0 && (at_end(p) || (!is_word(peek(p)) && peek(p) != '.' && peek(p) != '\'' && peek(p) != '"'));
    if (!clean) {
        char c0 = start < p->len ? p->s[start] : '\0';
        if (!(is_word(c0) || c0 == '-' || c0 == '.' || c0 == '\'' || c0 == '"')) {
            p->pos = start;  // not a value at all: a syntax error, such as "(2, }"
            return expected(p, "a dimension in 'shape'");
        }
        size_t end = p->pos;
        while (end < p->len && !is_ws(p->s[end]) && p->s[end] != ',' && p->s[end] != ')') end++;
        char tok[32];
        sanitize(p->s + start, end - start, tok, sizeof tok);
        return cnb_fail(p->err, CNB_E_PARSE, "%s: dimension %d of 'shape' is not an integer: '%s'", p->path, index, tok);
    }
    char tok[32];
    sanitize(p->s + start, p->pos - start, tok, sizeof tok);
    if (neg) return cnb_fail(p->err, CNB_E_PARSE, "%s: dimension %d of 'shape' is negative: %s", p->path, index, tok);
    if (big)
        return cnb_fail(p->err, CNB_E_OVERFLOW, "%s: dimension %d of 'shape' does not fit int64: %s", p->path, index,
                        tok);
    *v = x;
    return CNB_OK;
}

// A Python tuple of dimensions: (), (5,), (2, 3) or (2, 3,). "(5)" is an int in Python, not a tuple.
static cnb_status parse_shape(hdr_parser *p, npy_header *h) {
    if (peek(p) != '(') return expected(p, "a tuple '(' for 'shape'");
    size_t open = p->pos++;
    int n = 0;
    bool comma = false;
    skip_ws(p);
    while (peek(p) != ')') {
        int64_t d = 0;
        cnb_status st = parse_dim(p, n, &d);
        if (st != CNB_OK) return st;
        if (n < CNB_MAX_DIMS) h->dims[n] = d;
        n++;  // cannot overflow: the header is at most NPY_MAX_HEADER bytes
        skip_ws(p);
        if (peek(p) == ',') {
            comma = true;
            p->pos++;
            skip_ws(p);
        } else if (peek(p) != ')') {
            return expected(p, "',' or ')' in 'shape'");
        }
    }
    p->pos++;
    if (n == 1 && !comma) {
        char t[32];
        sanitize(p->s + open, p->pos - open, t, sizeof t);
        return cnb_fail(p->err, CNB_E_PARSE, "%s: 'shape' %s is not a tuple (a 1-d shape is written (n,))", p->path, t);
    }
    h->ndim = n;
    return CNB_OK;
}

static cnb_status parse_header(hdr_parser *p, npy_header *h) {
    memset(h, 0, sizeof *h);
    skip_ws(p);
    if (peek(p) != '{') return expected(p, "'{' opening the header dict");
    p->pos++;
    for (;;) {
        skip_ws(p);
        if (peek(p) == '}') break;  // empty dict, or a trailing comma
        const char *key;
        size_t klen;
        size_t kpos = p->pos;
        cnb_status st = parse_string(p, "a quoted key or '}'", &key, &klen);
        if (st != CNB_OK) return st;
        bool *seen;
        if (klen == 5 && memcmp(key, "descr", 5) == 0) seen = &h->has_descr;
        else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) seen = &h->has_fortran;
        else if (klen == 5 && memcmp(key, "shape", 5) == 0) seen = &h->has_shape;
        else {
            char k[32];
            sanitize(key, klen, k, sizeof k);
            return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: unknown key '%s' at byte %zu", p->path, k, kpos);
        }
        if (*seen) {
            return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: duplicate key '%.*s' at byte %zu", p->path,
                            (int)klen, key, kpos);
        }
        *seen = true;
        skip_ws(p);
        if (peek(p) != ':') return expected(p, "':' after the key");
        p->pos++;
        skip_ws(p);
        if (seen == &h->has_descr) {
            if (peek(p) == '[')
                return cnb_fail(p->err, CNB_E_PARSE, "%s: structured dtype (a list of fields) is not supported", p->path);
            st = parse_string(p, "a quoted dtype string for 'descr'", &h->descr, &h->descr_len);
        } else if (seen == &h->has_fortran) {
            st = parse_bool(p, &h->fortran);
        } else {
            st = parse_shape(p, h);
        }
        if (st != CNB_OK) return st;
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) != '}') return expected(p, "',' or '}'");
        break;
    }
    p->pos++;  // the '}'
    skip_ws(p);  // NumPy's padding: spaces and the final '\n'
    if (!at_end(p)) {
        char near[48];
        here(p, near, sizeof near);
        return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: unexpected %s after the dict at byte %zu", p->path,
                        near, p->pos);
    }
    const char *missing = !h->has_descr ? "descr" : !h->has_fortran ? "fortran_order" : !h->has_shape ? "shape" : NULL;
    if (missing) return cnb_fail(p->err, CNB_E_PARSE, "%s: malformed header: no '%s' key", p->path, missing);
    return CNB_OK;
}

// ---- reading -----------------------------------------------------------------------------------------

// Bytes of an array of shape dims with items of itemsize; like NumPy, zero dims are skipped so that the
// product of the others must still fit.
static cnb_status data_bytes(const char *path, int ndim, const int64_t *dims, size_t itemsize, int64_t *bytes,
                             cnb_error *err) {
    int64_t b = (int64_t)itemsize;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 0) {
            empty = true;
            continue;
        }
        if (!cnb_mul_ok(b, dims[i], &b))
            return cnb_fail(err, CNB_E_OVERFLOW, "%s: shape is too large: its size in bytes overflows int64", path);
    }
    if ((int64_t)(size_t)b != b)
        return cnb_fail(err, CNB_E_OVERFLOW, "%s: shape is too large: %lld bytes do not fit size_t", path, (long long)b);
    *bytes = empty ? 0 : b;
    return CNB_OK;
}

static cnb_status check_dtype(const char *path, const npy_header *h, const npy_dtype *want, cnb_error *err) {
    if (h->descr_len == strlen(want->descr) && memcmp(h->descr, want->descr, h->descr_len) == 0) return CNB_OK;
    char d[32], desc[48];
    sanitize(h->descr, h->descr_len, d, sizeof d);
    if (h->descr_len == 3 && h->descr[0] == '>' && memcmp(h->descr + 1, want->descr + 1, 2) == 0)
        return cnb_fail(err, CNB_E_PARSE, "%s: dtype '%s' is big-endian; expected '%s' (little-endian %s)", path, d,
                        want->descr, want->name);
    dtype_desc(h->descr, h->descr_len, desc, sizeof desc);
    return cnb_fail(err, CNB_E_PARSE, "%s: dtype '%s'%s is not supported; expected '%s' (little-endian %s)", path, d,
                    desc, want->descr, want->name);
}

// fread that reports the reason of a short read: CNB_E_IO on a read error, CNB_E_PARSE at end of file.
static cnb_status read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what, cnb_error *err) {
    size_t done = 0;
    while (done < n) {
        size_t want = n - done < NPY_CHUNK ? n - done : NPY_CHUNK;
        size_t got = fread((char *)buf + done, 1, want, f);
        done += got;
        if (got < want) {
            if (ferror(f)) return cnb_fail(err, CNB_E_IO, "%s: read error in %s: %s", path, what, strerror(errno));
            return cnb_fail(err, CNB_E_PARSE, "%s: truncated: expected %zu bytes of %s, found %zu", path, n, what, done);
        }
    }
    return CNB_OK;
}

static cnb_status read_open(FILE *f, const char *path, const npy_dtype *want, cnb_shape *shape, void **data,
                            cnb_error *err) {
    // The file's size bounds every length the header claims, before anything is allocated.
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) return cnb_fail(err, CNB_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cnb_fail(err, CNB_E_IO, "%s: cannot read: %s", path, strerror(EISDIR));
    if (!S_ISREG(sb.st_mode)) return cnb_fail(err, CNB_E_IO, "%s: cannot read: not a regular file", path);
    int64_t fsize = (int64_t)sb.st_size;

    unsigned char pre[12];
    size_t got = fread(pre, 1, 8, f);
    if (got < 8 && ferror(f)) return cnb_fail(err, CNB_E_IO, "%s: read error: %s", path, strerror(errno));
    if (got < NPY_MAGIC_LEN || memcmp(pre, k_magic, NPY_MAGIC_LEN) != 0)
        return cnb_fail(err, CNB_E_PARSE, "%s: not a .npy file: no \\x93NUMPY magic string", path);
    if (got < 8) return cnb_fail(err, CNB_E_PARSE, "%s: truncated: the file ends inside the format version", path);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return cnb_fail(err, CNB_E_PARSE, "%s: unsupported .npy format version %d.%d (expected 1.0, 2.0 or 3.0)", path,
                        major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    cnb_status st = read_exact(f, pre + 8, lenbytes, path, "the header length", err);
    if (st != CNB_OK) return st;
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (lenbytes == 4) hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    int64_t data_off = 8 + (int64_t)lenbytes + hlen;
    if (data_off > fsize)
        return cnb_fail(err, CNB_E_PARSE, "%s: truncated: header length %lu goes past the end of the file (%lld bytes)",
                        path, (unsigned long)hlen, (long long)fsize);
    if (hlen > NPY_MAX_HEADER)
        return cnb_fail(err, CNB_E_PARSE, "%s: header length %lu exceeds the %d-byte limit", path, (unsigned long)hlen,
                        NPY_MAX_HEADER);

    char *text = cnb_malloc(hlen ? hlen : 1);
    if (!text) return cnb_fail(err, CNB_E_NOMEM, "%s: cannot allocate %lu bytes for the header", path, (unsigned long)hlen);
    st = read_exact(f, text, hlen, path, "the header", err);
    npy_header h;
    if (st == CNB_OK) {
        hdr_parser p = {text, hlen, 0, path, err};
        st = parse_header(&p, &h);
    }
    if (st == CNB_OK) st = check_dtype(path, &h, want, err);
    cnb_free(text);  // h.descr points into text: not used past here
    if (st != CNB_OK) return st;

    if (h.fortran)
        return cnb_fail(err, CNB_E_PARSE, "%s: fortran_order is True; only C-order arrays are supported", path);
    if (h.ndim > CNB_MAX_DIMS)
        return cnb_fail(err, CNB_E_PARSE, "%s: shape has %d dimensions; at most %d are supported", path, h.ndim,
                        CNB_MAX_DIMS);
    int64_t nbytes = 0;
    st = data_bytes(path, h.ndim, h.dims, want->itemsize, &nbytes, err);
    if (st != CNB_OK) return st;
    int64_t avail = fsize - data_off;
    if (avail < nbytes)
        return cnb_fail(err, CNB_E_PARSE, "%s: truncated: expected %lld data bytes, found %lld", path, (long long)nbytes,
                        (long long)avail);
    if (avail > nbytes)
        return cnb_fail(err, CNB_E_PARSE, "%s: %lld extra bytes after the %lld data bytes", path,
                        (long long)(avail - nbytes), (long long)nbytes);

    // An empty array still gets a non-NULL buffer, so that callers can tell success from failure by *data.
    void *buf = cnb_malloc(nbytes ? (size_t)nbytes : 1);
    if (!buf) return cnb_fail(err, CNB_E_NOMEM, "%s: cannot allocate %lld bytes for the data", path, (long long)nbytes);
    st = read_exact(f, buf, (size_t)nbytes, path, "data", err);
    // The size was checked, but the file may have grown since: refuse what is not the array.
    if (st == CNB_OK && fgetc(f) != EOF)
        st = cnb_fail(err, CNB_E_PARSE, "%s: extra bytes after the %lld data bytes", path, (long long)nbytes);
    if (st != CNB_OK) {
        cnb_free(buf);
        return st;
    }
    shape->ndim = h.ndim;
    for (int i = 0; i < CNB_MAX_DIMS; i++) shape->dims[i] = i < h.ndim ? h.dims[i] : 0;
    *data = buf;
    return CNB_OK;
}

static cnb_status read_array(const char *path, const npy_dtype *want, cnb_shape *shape, void **data, cnb_error *err) {
    if (data) *data = NULL;
    if (!path || !shape || !data)
        return cnb_fail(err, CNB_E_INVALID_ARG, "npy read: path, shape and data must not be NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return cnb_fail(err, CNB_E_IO, "%s: cannot open: %s", path, strerror(errno));
    cnb_status st = read_open(f, path, want, shape, data, err);
    fclose(f);  // opened for reading: a failing close loses nothing
    return st;
}

cnb_status cnb_npy_read_f32(const char *path, cnb_shape *shape, float **data, cnb_error *err) {
    void *d = NULL;
    cnb_status st = read_array(path, &k_f32, shape, data ? &d : NULL, err);
    if (data) *data = d;
    return st;
}

cnb_status cnb_npy_read_i64(const char *path, cnb_shape *shape, int64_t **data, cnb_error *err) {
    void *d = NULL;
    cnb_status st = read_array(path, &k_i64, shape, data ? &d : NULL, err);
    if (data) *data = d;
    return st;
}

// ---- writing -----------------------------------------------------------------------------------------

// The preamble and header exactly as np.save (NumPy >= 1.24) writes them, so files compare byte for byte:
// sorted keys, repr() of the shape, room for the first dim to grow to 21 digits, then spaces and '\n' up to
// a multiple of 64 bytes (a full 64 when already aligned, as NumPy does). Returns the length.
static size_t format_header(const npy_dtype *dt, const cnb_shape *shape, char *out, size_t size) {
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", dt->descr);
    for (int i = 0; i < shape->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape->dims[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", shape->ndim == 1 ? "," : "");
    if (shape->ndim > 0) {
        int first = snprintf(NULL, 0, "%lld", (long long)shape->dims[0]);
        for (int i = first; i < NPY_GROWTH_DIGITS && n < (int)sizeof dict; i++) dict[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1;  // + '\n'
    size_t pad = NPY_ALIGN - (NPY_MAGIC_LEN + 4 + hlen) % NPY_ALIGN;
    size_t total = NPY_MAGIC_LEN + 4 + hlen + pad;
    if (total > size) return 0;
    memcpy(out, k_magic, NPY_MAGIC_LEN);
    out[6] = 1, out[7] = 0;
    out[8] = (char)((hlen + pad) & 0xff), out[9] = (char)((hlen + pad) >> 8);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', pad);
    out[total - 1] = '\n';
    return total;
}

static cnb_status write_array(const char *path, const cnb_shape *shape, const void *data, const npy_dtype *dt,
                              cnb_error *err) {
    if (!path || !shape) return cnb_fail(err, CNB_E_INVALID_ARG, "npy write: path and shape must not be NULL");
    if (shape->ndim < 0 || shape->ndim > CNB_MAX_DIMS)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: cannot write %d dimensions; 0 to %d are supported", path,
                        shape->ndim, CNB_MAX_DIMS);
    for (int i = 0; i < shape->ndim; i++)
        if (shape->dims[i] < 0)
            return cnb_fail(err, CNB_E_INVALID_ARG, "%s: cannot write: dimension %d is negative (%lld)", path, i,
                            (long long)shape->dims[i]);
    int64_t nbytes = 0;
    cnb_status st = data_bytes(path, shape->ndim, shape->dims, dt->itemsize, &nbytes, err);
    if (st != CNB_OK) return st;
    if (nbytes > 0 && !data)
        return cnb_fail(err, CNB_E_INVALID_ARG, "%s: cannot write: data is NULL for %lld bytes", path, (long long)nbytes);

    char head[256];
    size_t hsize = format_header(dt, shape, head, sizeof head);
    if (hsize == 0) return cnb_fail(err, CNB_E_INVALID_ARG, "%s: cannot write: header too long", path);

    FILE *f = fopen(path, "wb");
    if (!f) return cnb_fail(err, CNB_E_IO, "%s: cannot create: %s", path, strerror(errno));
    // Only a regular file is ours to remove on failure: never unlink a device such as /dev/full.
    struct stat sb;
    bool regular = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    int e = 0;
    errno = 0;
    if (fwrite(head, 1, hsize, f) != hsize) e = errno ? errno : EIO;
    for (size_t done = 0; !e && done < (size_t)nbytes;) {
        size_t n = (size_t)nbytes - done < NPY_CHUNK ? (size_t)nbytes - done : NPY_CHUNK;
        errno = 0;
        if (fwrite((const char *)data + done, 1, n, f) != n) e = errno ? errno : EIO;
        done += n;
    }
    errno = 0;
    if (fclose(f) != 0 && !e) e = errno ? errno : EIO;  // buffered data may only fail to reach the disk here
    if (e) {
        if (regular) remove(path);
        return cnb_fail(err, CNB_E_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return CNB_OK;
}

cnb_status cnb_npy_write_f32(const char *path, const cnb_shape *shape, const float *data, cnb_error *err) {
    return write_array(path, shape, data, &k_f32, err);
}

cnb_status cnb_npy_write_i64(const char *path, const cnb_shape *shape, const int64_t *data, cnb_error *err) {
    return write_array(path, shape, data, &k_i64, err);
}
