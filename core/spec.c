/* The layer-spec parser and printer: a PyTorch constructor call such as "Conv2d(3, 64, kernel_size=(7, 7))"
 * is lexed on the fly and read by a one-level descent parser (a value is a scalar or a flat tuple/list);
 * arguments are bound to PyTorch 1.13's constructor signatures, type-checked and stored in a cnb_layer.
 * Values are only type-checked here; core/ checks them against PyTorch's rules. */
#include "core/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* ---- characters: explicit ASCII tests, as <ctype.h> depends on the locale ---------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_word(char c) { return is_alpha(c) || is_digit(c); }

/* ---- tokens --------------------------------------------------------------------------------------- */

typedef enum tok_kind {
    TK_END, TK_NAME, TK_INT, TK_FLOAT, TK_STR, TK_LPAR, TK_RPAR, TK_LBRK, TK_RBRK, TK_COMMA, TK_EQ
} tok_kind;

typedef struct token {
    tok_kind kind;
    size_t pos, end;   /* source bytes [pos, end); a TK_STR's text is [pos + 1, end - 1) */
    int64_t i;         /* TK_INT */
    double f;          /* TK_FLOAT */
} token;

typedef struct parser {
    const char *src;
    size_t len;
    size_t pos;        /* where the next token starts (before whitespace) */
    cnb_error *err;
} parser;

/* Excerpts quoted in messages are clipped so a message stays well under cnb_error's 256 bytes. */
#define SHOW_BYTES 24
#define SHOW_SIZE (SHOW_BYTES + 8)
#define WINDOW_BYTES 64
#define WINDOW_SIZE (WINDOW_BYTES + 8)

/* Copy up to max bytes of s[0, n), keeping the message one printable line: whitespace becomes ' ',
 * control and non-ASCII bytes '?'. "..." marks a cut. out must hold max + 4 bytes. */
static void clip(const char *s, size_t n, size_t max, char *out) {
    size_t k = n < max ? n : max;
    for (size_t j = 0; j < k; j++) {
        unsigned char c = (unsigned char)s[j];
        out[j] = is_space((char)c) ? ' ' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (n > max) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* The source text [pos, end) in quotes; a quoted string already carries its own. */
static void show(const parser *p, size_t pos, size_t end, char out[SHOW_SIZE]) {
    if (end > p->len) end = p->len;
    if (pos >= end) { strcpy(out, "''"); return; }
    char c = p->src[pos];
    if (c == '\'' || c == '"') { clip(p->src + pos, end - pos, SHOW_BYTES, out); return; }
    out[0] = '\'';
    clip(p->src + pos, end - pos, SHOW_BYTES, out + 1);
    strcat(out, "'");
}

/* The spec itself, or for a long one a window around pos. */
static void window(const parser *p, size_t pos, char out[WINDOW_SIZE]) {
    if (p->len <= WINDOW_BYTES) { clip(p->src, p->len, WINDOW_BYTES, out); return; }
    size_t start = pos > WINDOW_BYTES / 2 ? pos - WINDOW_BYTES / 2 : 0;
    if (start > p->len - WINDOW_BYTES) start = p->len - WINDOW_BYTES;
    size_t k = 0;
    if (start > 0) {
        memcpy(out, "...", 3);
        k = 3;
    }
    clip(p->src + start, p->len - start, WINDOW_BYTES, out + k);
}

/* "spec: <what> '<text>' at column N in "<spec>"". */
static cnb_status lex_error(const parser *p, const char *what, size_t pos, size_t end) {
    char tok[SHOW_SIZE], win[WINDOW_SIZE];
    show(p, pos, end, tok);
    window(p, pos, win);
    return cnb_fail(p->err, CNB_E_PARSE, "spec: %s %s at column %zu in \"%s\"", what, tok, pos + 1, win);
}

/* "spec: unexpected <token> at column N in "<spec>"[; expected <expected>]". */
static cnb_status syntax_error(const parser *p, const token *t, const char *expected) {
    char tok[SHOW_SIZE], win[WINDOW_SIZE];
    if (t->kind == TK_END) strcpy(tok, "end of spec");
    else show(p, t->pos, t->end, tok);
    window(p, t->pos, win);
    return cnb_fail(p->err, CNB_E_PARSE, "spec: unexpected %s at column %zu in \"%s\"%s%s", tok, t->pos + 1, win,
                    expected ? "; expected " : "", expected ? expected : "");
}

/* A number: -? digits [. digits] [e[+-]digits], or one starting with '.'. Python allows "- 1", so a
 * space may follow the sign; it also allows "1_000" and "0x10", which are refused here. */
static cnb_status lex_number(const parser *p, size_t pos, token *t) {
    const char *s = p->src;
    size_t q = pos;
    bool neg = false;
    if (s[q] == '-') {
        neg = true;
        q++;
        while (is_space(s[q])) q++;
        if (!is_digit(s[q]) && !(s[q] == '.' && is_digit(s[q + 1])))
            return lex_error(p, "unexpected", pos, pos + 1);
    }
    size_t num = q;
    bool is_float = false;
    while (is_digit(s[q])) q++;
    if (s[q] == '.') {
        is_float = true;
        q++;
        while (is_digit(s[q])) q++;
    }
    bool bad = false;
    if (s[q] == 'e' || s[q] == 'E') {
        is_float = true;
        q++;
        if (s[q] == '+' || s[q] == '-') q++;
        bad = !is_digit(s[q]);
        while (is_digit(s[q])) q++;
    }
    if (bad || is_word(s[q]) || s[q] == '.') {
        while (is_word(s[q]) || s[q] == '.') q++;
        return lex_error(p, "malformed number", pos, q);
    }
    t->pos = pos;
    t->end = q;
    if (is_float) {
        // strtod must stop exactly where the token ends: this also catches a locale whose decimal
        // point is not '.', instead of silently reading "0.1" as 0.
        char *stop = NULL;
        double v = strtod(s + num, &stop);
        if (stop != s + q) return lex_error(p, "malformed number", pos, q);
        if (isinf(v)) return lex_error(p, "float out of range", pos, q);
        t->kind = TK_FLOAT;
        t->f = neg ? -v : v;
        return CNB_OK;
    }
    // Accumulate the magnitude unsigned: -9223372036854775808 is in range, its magnitude is not an int64.
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX, acc = 0;
    for (size_t j = num; j < q; j++) {
        uint64_t d = (uint64_t)(s[j] - '0');
        if (acc > (limit - d) / 10u) return lex_error(p, "integer out of range", pos, q);
        acc = acc * 10u + d;
    }
    t->kind = TK_INT;
    t->i = !neg ? (int64_t)acc : acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc;
    return CNB_OK;
}

/* Lex the token at or after pos (nothing is consumed: the caller moves p->pos). */
static cnb_status lex(const parser *p, size_t pos, token *t) {
    const char *s = p->src;
    while (pos < p->len && is_space(s[pos])) pos++;
    memset(t, 0, sizeof *t);
    t->pos = pos;
    t->end = pos;
    if (pos >= p->len) { t->kind = TK_END; return CNB_OK; }
    t->end = pos + 1;
    char c = s[pos];
    switch (c) {
    case '(': t->kind = TK_LPAR; return CNB_OK;
    case ')': t->kind = TK_RPAR; return CNB_OK;
    case '[': t->kind = TK_LBRK; return CNB_OK;
    case ']': t->kind = TK_RBRK; return CNB_OK;
    case ',': t->kind = TK_COMMA; return CNB_OK;
    case '=': t->kind = TK_EQ; return CNB_OK;
    default: break;
    }
    if (c == '-' || is_digit(c) || (c == '.' && is_digit(s[pos + 1]))) return lex_number(p, pos, t);
    if (c == '\'' || c == '"') {
        size_t q = pos + 1;
        while (q < p->len && s[q] != c && s[q] != '\\') q++;
        if (q >= p->len) return lex_error(p, "unterminated string", pos, p->len);
        if (s[q] == '\\') return lex_error(p, "escape sequences are not supported in", pos, q + 1);
        t->kind = TK_STR;
        t->end = q + 1;
        return CNB_OK;
    }
    if (is_alpha(c)) {
        // Dotted names are one token: "torch.nn.Conv2d", "torch.float32".
        size_t q = pos + 1;
        while (is_word(s[q]) || (s[q] == '.' && is_alpha(s[q + 1]))) q++;
        t->kind = TK_NAME;
        t->end = q;
        return CNB_OK;
    }
    unsigned char b = (unsigned char)c;
    if (b < 0x20 || b >= 0x7f) {
        char what[40], win[WINDOW_SIZE];
        snprintf(what, sizeof what, "unexpected byte 0x%02x", b);
        window(p, pos, win);
        return cnb_fail(p->err, CNB_E_PARSE, "spec: %s at column %zu in \"%s\"", what, pos + 1, win);
    }
    return lex_error(p, "unexpected character", pos, pos + 1);
}

static cnb_status next(parser *p, token *t) {
    cnb_status st = lex(p, p->pos, t);
    if (st == CNB_OK) p->pos = t->end;
    return st;
}

/* ---- values --------------------------------------------------------------------------------------- */

typedef enum sc_kind { SC_INT, SC_FLOAT, SC_STR, SC_NONE, SC_TRUE, SC_FALSE } sc_kind;

typedef struct scalar {
    sc_kind kind;
    int64_t i;
    double f;
    size_t s, n;       /* SC_STR: the text's bytes in the source (quotes removed) */
} scalar;

/* No argument takes more than two elements: longer tuples are counted, and refused, but not stored. */
#define SEQ_KEEP 2

typedef struct value {
    bool seq;          /* a tuple or list; otherwise el[0] holds the one scalar */
    size_t n;
    scalar el[SEQ_KEEP];
    size_t pos, end;   /* source span, for messages */
} value;

static bool name_is(const parser *p, const token *t, const char *word) {
    size_t n = strlen(word);
    return t->end - t->pos == n && memcmp(p->src + t->pos, word, n) == 0;
}

/* Scalar tokens: numbers, strings, None/True/False, and unquoted names, which stand for strings
 * (print(module) writes padding=same, padding_mode=reflect). */
static bool to_scalar(const parser *p, const token *t, scalar *sc) {
    memset(sc, 0, sizeof *sc);
    switch (t->kind) {
    case TK_INT: sc->kind = SC_INT; sc->i = t->i; return true;
    case TK_FLOAT: sc->kind = SC_FLOAT; sc->f = t->f; return true;
    case TK_STR: sc->kind = SC_STR; sc->s = t->pos + 1; sc->n = t->end - t->pos - 2; return true;
    case TK_NAME:
        if (name_is(p, t, "None")) sc->kind = SC_NONE;
        else if (name_is(p, t, "True")) sc->kind = SC_TRUE;
        else if (name_is(p, t, "False")) sc->kind = SC_FALSE;
        else {
            sc->kind = SC_STR;
            sc->s = t->pos;
            sc->n = t->end - t->pos;
        }
        return true;
    default: return false;
    }
}

#define EXPECT_VALUE "a value (number, string, tuple, None, True or False)"

/* value := scalar | '(' ')' | '(' scalar ')' | '(' scalar ',' [scalar {',' scalar} [',']] ')'
 *        | '[' [scalar {',' scalar} [',']] ']'. As in Python, "(3)" is the scalar 3 and "(3,)" a tuple. */
static cnb_status parse_value(parser *p, value *v) {
    token t;
    cnb_status st = next(p, &t);
    if (st) return st;
    memset(v, 0, sizeof *v);
    v->pos = t.pos;
    if (to_scalar(p, &t, &v->el[0])) {
        v->n = 1;
        v->end = t.end;
        return CNB_OK;
    }
    if (t.kind != TK_LPAR && t.kind != TK_LBRK) return syntax_error(p, &t, EXPECT_VALUE);
    tok_kind close = t.kind == TK_LPAR ? TK_RPAR : TK_RBRK;
    const char *expect_more = close == TK_RPAR ? "a value or ')'" : "a value or ']'";
    const char *expect_sep = close == TK_RPAR ? "',' or ')'" : "',' or ']'";
    bool comma = false;
    v->seq = true;
    for (;;) {
        token u;
        if ((st = next(p, &u))) return st;
        if (u.kind == close) break;
        if (u.kind == TK_LPAR || u.kind == TK_LBRK)
            return lex_error(p, "nested tuples are not supported:", u.pos, u.end);
        scalar sc;
        if (!to_scalar(p, &u, &sc)) return syntax_error(p, &u, expect_more);
        if (v->n < SEQ_KEEP) v->el[v->n] = sc;
        v->n++;
        if ((st = next(p, &u))) return st;
        if (u.kind == close) break;
        if (u.kind != TK_COMMA) return syntax_error(p, &u, expect_sep);
        comma = true;
    }
    if (close == TK_RPAR && v->n == 1 && !comma) v->seq = false;
    v->end = p->pos;
    return CNB_OK;
}

/* ---- arguments ------------------------------------------------------------------------------------ */

typedef enum arg_type {
    A_INT,             /* an int */
    A_BOOL,            /* True or False */
    A_FLOAT,           /* a float or an int */
    A_FLOAT_OR_NONE,   /* ... or None: flag says whether given */
    A_INT_OR_NONE,
    A_INTS,            /* Conv: an int, or a tuple of exactly dims ints */
    A_CONV_PADDING,    /* A_INTS, or 'same' / 'valid' */
    A_POOL_INTS,       /* pooling: an int, or a tuple of one or two ints, as PyTorch's pooling ops take */
    A_POOL_STRIDE,     /* A_POOL_INTS, or None / () for "same as kernel_size": flag says whether given */
    A_PADDING_MODE,
    A_DEVICE,          /* None or 'cpu': accepted and ignored */
    A_DTYPE,           /* None or torch.float32: accepted and ignored */
    A_OUTPUT_SIZE      /* AdaptiveAvgPool2d: an int, None, or two of int/None */
} arg_type;

/* One constructor parameter and where its value goes in the layer being built. */
typedef struct arg_slot {
    const char *name;
    arg_type type;
    bool required;
    int dims;                      /* A_INTS, A_CONV_PADDING: 1 (Conv1d) or 2 */
    int64_t *ints;
    bool *flag;
    double *real;
    cnb_padding_kind *pad_kind;
    cnb_padding_mode *pad_mode;
} arg_slot;

#define MAX_SLOTS 11

/* The constructor's parameters in positional order (PyTorch 1.13 signatures). */
static size_t layer_slots(cnb_layer *l, arg_slot *s) {
    size_t n = 0;
    switch (l->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        cnb_conv_params *c = &l->u.conv;
        int d = l->kind == CNB_CONV1D ? 1 : 2;
        s[n++] = (arg_slot){.name = "in_channels", .type = A_INT, .required = true, .ints = &c->in_channels};
        s[n++] = (arg_slot){.name = "out_channels", .type = A_INT, .required = true, .ints = &c->out_channels};
        s[n++] = (arg_slot){.name = "kernel_size", .type = A_INTS, .required = true, .dims = d, .ints = c->kernel_size};
        s[n++] = (arg_slot){.name = "stride", .type = A_INTS, .dims = d, .ints = c->stride};
        s[n++] = (arg_slot){.name = "padding", .type = A_CONV_PADDING, .dims = d, .ints = c->padding,
                            .pad_kind = &c->padding_kind};
        s[n++] = (arg_slot){.name = "dilation", .type = A_INTS, .dims = d, .ints = c->dilation};
        s[n++] = (arg_slot){.name = "groups", .type = A_INT, .ints = &c->groups};
        s[n++] = (arg_slot){.name = "bias", .type = A_BOOL, .flag = &c->bias};
        s[n++] = (arg_slot){.name = "padding_mode", .type = A_PADDING_MODE, .pad_mode = &c->padding_mode};
        s[n++] = (arg_slot){.name = "device", .type = A_DEVICE};
        s[n++] = (arg_slot){.name = "dtype", .type = A_DTYPE};
        break;
    }
    case CNB_MAXPOOL2D: {
        cnb_maxpool2d_params *m = &l->u.maxpool2d;
        s[n++] = (arg_slot){.name = "kernel_size", .type = A_POOL_INTS, .required = true, .ints = m->kernel_size};
        s[n++] = (arg_slot){.name = "stride", .type = A_POOL_STRIDE, .ints = m->stride, .flag = &m->stride_given};
        s[n++] = (arg_slot){.name = "padding", .type = A_POOL_INTS, .ints = m->padding};
        s[n++] = (arg_slot){.name = "dilation", .type = A_POOL_INTS, .ints = m->dilation};
        s[n++] = (arg_slot){.name = "return_indices", .type = A_BOOL, .flag = &m->return_indices};
        s[n++] = (arg_slot){.name = "ceil_mode", .type = A_BOOL, .flag = &m->ceil_mode};
        break;
    }
    case CNB_AVGPOOL2D: {
        cnb_avgpool2d_params *a = &l->u.avgpool2d;
        s[n++] = (arg_slot){.name = "kernel_size", .type = A_POOL_INTS, .required = true, .ints = a->kernel_size};
        s[n++] = (arg_slot){.name = "stride", .type = A_POOL_STRIDE, .ints = a->stride, .flag = &a->stride_given};
        s[n++] = (arg_slot){.name = "padding", .type = A_POOL_INTS, .ints = a->padding};
        s[n++] = (arg_slot){.name = "ceil_mode", .type = A_BOOL, .flag = &a->ceil_mode};
        s[n++] = (arg_slot){.name = "count_include_pad", .type = A_BOOL, .flag = &a->count_include_pad};
        s[n++] = (arg_slot){.name = "divisor_override", .type = A_INT_OR_NONE, .ints = &a->divisor_override,
                            .flag = &a->divisor_override_given};
        break;
    }
    case CNB_ADAPTIVEAVGPOOL2D:
        s[n++] = (arg_slot){.name = "output_size", .type = A_OUTPUT_SIZE, .required = true,
                            .ints = l->u.adaptiveavgpool2d.output_size};
        break;
    case CNB_BATCHNORM2D: {
        cnb_batchnorm2d_params *b = &l->u.batchnorm2d;
        s[n++] = (arg_slot){.name = "num_features", .type = A_INT, .required = true, .ints = &b->num_features};
        s[n++] = (arg_slot){.name = "eps", .type = A_FLOAT, .real = &b->eps};
        s[n++] = (arg_slot){.name = "momentum", .type = A_FLOAT_OR_NONE, .real = &b->momentum,
                            .flag = &b->momentum_given};
        s[n++] = (arg_slot){.name = "affine", .type = A_BOOL, .flag = &b->affine};
        s[n++] = (arg_slot){.name = "track_running_stats", .type = A_BOOL, .flag = &b->track_running_stats};
        s[n++] = (arg_slot){.name = "device", .type = A_DEVICE};
        s[n++] = (arg_slot){.name = "dtype", .type = A_DTYPE};
        break;
    }
    default:
        break;
    }
    return n;
}

static bool str_is(const parser *p, const scalar *sc, const char *word) {
    size_t n = strlen(word);
    return sc->kind == SC_STR && sc->n == n && memcmp(p->src + sc->s, word, n) == 0;
}

/* "Conv2d: kernel_size must be <expected>, got '(3, 3, 3)' (column 14)". */
static cnb_status bad_type(const parser *p, const char *who, const arg_slot *a, const value *v,
                           const char *expected) {
    char got[SHOW_SIZE];
    show(p, v->pos, v->end, got);
    return cnb_fail(p->err, CNB_E_PARSE, "%s: %s must be %s, got %s (column %zu)", who, a->name, expected, got,
                    v->pos + 1);
}

/* An int, or a tuple/list of min_n..max_n ints; an int or a 1-tuple fills both entries of out. */
static bool get_ints(const value *v, size_t min_n, size_t max_n, int64_t out[2]) {
    if (!v->seq) {
        if (v->el[0].kind != SC_INT) return false;
        out[0] = out[1] = v->el[0].i;
        return true;
    }
    if (v->n < min_n || v->n > max_n) return false;
    for (size_t j = 0; j < v->n; j++)
        if (v->el[j].kind != SC_INT) return false;
    out[0] = v->el[0].i;
    out[1] = v->n == 2 ? v->el[1].i : v->el[0].i;
    return true;
}

static bool get_float(const value *v, double *out) {
    if (v->seq) return false;
    if (v->el[0].kind == SC_INT) *out = (double)v->el[0].i;
    else if (v->el[0].kind == SC_FLOAT) *out = v->el[0].f;
    else return false;
    return true;
}

static bool is_none(const value *v) { return !v->seq && v->el[0].kind == SC_NONE; }

static cnb_status set_output_size(const parser *p, const char *who, const arg_slot *a, const value *v) {
    static const char expected[] = "an int, or a tuple of two ints or Nones";
    int64_t o[2];
    if (!v->seq) {
        // A lone None is refused: PyTorch 1.13 fails on it in forward (len() of None).
        sc_kind k = v->el[0].kind;
        if (k != SC_INT) return bad_type(p, who, a, v, expected);
        o[0] = o[1] = v->el[0].i;
    } else {
        if (v->n != 2) return bad_type(p, who, a, v, expected);
        for (size_t j = 0; j < 2; j++) {
            sc_kind k = v->el[j].kind;
            if (k != SC_INT && k != SC_NONE) return bad_type(p, who, a, v, expected);
            o[j] = k == SC_NONE ? -1 : v->el[j].i;
        }
    }
    // output_size < 0 means None in cnb_layer, so a negative int cannot be passed on to core/'s checks:
    // refuse it here, with PyTorch's message.
    bool neg[2] = {false, false};
    for (size_t j = 0; j < 2; j++) {
        const scalar *e = &v->el[v->seq ? j : 0];
        neg[j] = e->kind == SC_INT && e->i < 0;
    }
    if (neg[0] || neg[1]) {
        char s[2][24];
        for (size_t j = 0; j < 2; j++) {
            const scalar *e = &v->el[v->seq ? j : 0];
            if (e->kind == SC_NONE) strcpy(s[j], "None");
            else snprintf(s[j], sizeof s[j], "%" PRId64, e->i);
        }
        return cnb_fail(p->err, CNB_E_INVALID_ARG,
                        "%s: elements of output_size must be greater than or equal to 0 but received {%s, %s} "
                        "(column %zu)", who, s[0], s[1], v->pos + 1);
    }
    a->ints[0] = o[0];
    a->ints[1] = o[1];
    return CNB_OK;
}

/* Type-check v against slot a and store it. */
static cnb_status apply(const parser *p, const char *who, const arg_slot *a, const value *v) {
    const scalar *e = &v->el[0];
    int64_t pair[2];
    double real;
    switch (a->type) {
    case A_INT:
        if (v->seq || e->kind != SC_INT) return bad_type(p, who, a, v, "an int");
        *a->ints = e->i;
        return CNB_OK;
    case A_BOOL:
        if (v->seq || (e->kind != SC_TRUE && e->kind != SC_FALSE)) return bad_type(p, who, a, v, "True or False");
        *a->flag = e->kind == SC_TRUE;
        return CNB_OK;
    case A_FLOAT:
        if (!get_float(v, &real)) return bad_type(p, who, a, v, "a float");
        *a->real = real;
        return CNB_OK;
    case A_FLOAT_OR_NONE:
        if (is_none(v)) { *a->flag = false; return CNB_OK; }
        if (!get_float(v, &real)) return bad_type(p, who, a, v, "a float or None");
        *a->flag = true;
        *a->real = real;
        return CNB_OK;
    case A_INT_OR_NONE:
        if (is_none(v)) { *a->flag = false; return CNB_OK; }
        if (v->seq || e->kind != SC_INT) return bad_type(p, who, a, v, "an int or None");
        *a->flag = true;
        *a->ints = e->i;
        return CNB_OK;
    case A_CONV_PADDING:
        if (!v->seq && e->kind == SC_STR) {
            if (str_is(p, e, "same")) *a->pad_kind = CNB_PADDING_SAME;
            else if (str_is(p, e, "valid")) *a->pad_kind = CNB_PADDING_VALID;
            else {
                char got[SHOW_SIZE];
                show(p, v->pos, v->end, got);
                return cnb_fail(p->err, CNB_E_PARSE,
                                "%s: Invalid padding string %s, should be one of {'valid', 'same'} (column %zu)",
                                who, got, v->pos + 1);
            }
            return CNB_OK;
        }
        if (!get_ints(v, (size_t)a->dims, (size_t)a->dims, pair))
            return bad_type(p, who, a, v, a->dims == 1 ? "'valid', 'same', an int or a tuple of one int"
                                                       : "'valid', 'same', an int or a tuple of two ints");
        *a->pad_kind = CNB_PADDING_EXPLICIT;
        a->ints[0] = pair[0];
        if (a->dims == 2) a->ints[1] = pair[1];
        return CNB_OK;
    case A_INTS:
        // Conv1d keeps only index 0; index 1 keeps cnb_layer_defaults' value.
        if (!get_ints(v, (size_t)a->dims, (size_t)a->dims, pair))
            return bad_type(p, who, a, v, a->dims == 1 ? "an int or a tuple of one int" : "an int or a tuple of two ints");
        a->ints[0] = pair[0];
        if (a->dims == 2) a->ints[1] = pair[1];
        return CNB_OK;
    case A_POOL_STRIDE:
        // F.max_pool2d / F.avg_pool2d pass stride=None on as an empty list, which means kernel_size.
        if (is_none(v) || (v->seq && v->n == 0)) { *a->flag = false; return CNB_OK; }
        if (!get_ints(v, 1, 2, pair)) return bad_type(p, who, a, v, "None, an int or a tuple of one or two ints");
        *a->flag = true;
        a->ints[0] = pair[0];
        a->ints[1] = pair[1];
        return CNB_OK;
    case A_POOL_INTS:
        // PyTorch's pooling ops take a 1-element list as (v, v) ("a single int, or a tuple of two ints").
        if (!get_ints(v, 1, 2, pair)) return bad_type(p, who, a, v, "an int or a tuple of one or two ints");
        a->ints[0] = pair[0];
        a->ints[1] = pair[1];
        return CNB_OK;
    case A_PADDING_MODE: {
        static const char *const modes[] = {"zeros", "reflect", "replicate", "circular"};
        static const cnb_padding_mode values[] = {CNB_PADMODE_ZEROS, CNB_PADMODE_REFLECT, CNB_PADMODE_REPLICATE,
                                                  CNB_PADMODE_CIRCULAR};
        for (size_t j = 0; !v->seq && j < sizeof modes / sizeof modes[0]; j++)
            if (str_is(p, e, modes[j])) { *a->pad_mode = values[j]; return CNB_OK; }
        char got[SHOW_SIZE];
        show(p, v->pos, v->end, got);
        return cnb_fail(p->err, CNB_E_PARSE,
                        "%s: padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, got %s "
                        "(column %zu)", who, got, v->pos + 1);
    }
    case A_DEVICE:
        if (is_none(v) || (!v->seq && str_is(p, e, "cpu"))) return CNB_OK;
        return bad_type(p, who, a, v, "None or 'cpu'");
    case A_DTYPE:
        if (is_none(v) || (!v->seq && (str_is(p, e, "torch.float32") || str_is(p, e, "torch.float"))))
            return CNB_OK;
        return bad_type(p, who, a, v, "None or torch.float32 (cnnbench computes in float32)");
    case A_OUTPUT_SIZE:
        return set_output_size(p, who, a, v);
    }
    return cnb_fail(p->err, CNB_E_PARSE, "%s: internal error: argument %s has no type", who, a->name);
}

/* ---- the call ------------------------------------------------------------------------------------- */

static const char k_known_layers[] = "Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d";

/* The layer kind named by t, with an optional "nn." or "torch.nn." prefix; false if none. */
static bool find_kind(const parser *p, const token *t, cnb_layer_kind *kind) {
    const char *name = p->src + t->pos;
    size_t n = t->end - t->pos;
    size_t skip = n > 9 && memcmp(name, "torch.nn.", 9) == 0 ? 9 : n > 3 && memcmp(name, "nn.", 3) == 0 ? 3 : 0;
    name += skip;
    n -= skip;
    for (int k = 0; k < CNB_KIND_COUNT; k++) {
        const char *kn = cnb_kind_name((cnb_layer_kind)k);
        if (strlen(kn) == n && memcmp(kn, name, n) == 0) { *kind = (cnb_layer_kind)k; return true; }
    }
    return false;
}

static cnb_status unknown_argument(const parser *p, const char *who, const token *t, const arg_slot *slots,
                                   size_t n_slots) {
    char names[160] = "", tok[SHOW_SIZE];
    for (size_t j = 0; j < n_slots; j++) {
        if (j) strcat(names, ", ");
        strcat(names, slots[j].name);
    }
    show(p, t->pos, t->end, tok);
    return cnb_fail(p->err, CNB_E_PARSE, "%s: unknown argument %s (column %zu); arguments are %s", who, tok,
                    t->pos + 1, names);
}

cnb_status cnb_spec_parse(const char *spec, cnb_layer *layer, cnb_error *err) {
    if (!spec) return cnb_fail(err, CNB_E_PARSE, "spec: no spec given");
    if (!layer) return cnb_fail(err, CNB_E_PARSE, "spec: no layer to fill");
    parser p = {.src = spec, .len = strlen(spec), .pos = 0, .err = err};
    token t;
    cnb_status st = next(&p, &t);
    if (st) return st;
    if (t.kind == TK_END)
        return cnb_fail(err, CNB_E_PARSE, "spec: empty spec; expected a layer such as Conv2d(3, 64, kernel_size=3)");
    if (t.kind != TK_NAME) return syntax_error(&p, &t, "a layer name such as Conv2d");
    cnb_layer_kind kind;
    if (!find_kind(&p, &t, &kind)) {
        char tok[SHOW_SIZE];
        show(&p, t.pos, t.end, tok);
        return cnb_fail(err, CNB_E_PARSE, "spec: unknown layer %s (column %zu); known layers: %s", tok, t.pos + 1,
                        k_known_layers);
    }
    const char *who = cnb_kind_name(kind);
    if ((st = next(&p, &t))) return st;
    if (t.kind != TK_LPAR) return syntax_error(&p, &t, "'(' after the layer name");

    // Fill a copy, so *layer is untouched on failure.
    cnb_layer l;
    cnb_layer_defaults(&l, kind);
    arg_slot slots[MAX_SLOTS];
    size_t n_slots = layer_slots(&l, slots);
    bool seen[MAX_SLOTS] = {false};
    size_t n_positional = 0;
    bool keywords = false;
    for (;;) {
        if ((st = lex(&p, p.pos, &t))) return st;
        if (t.kind == TK_RPAR) break;   // also after a trailing comma, which Python allows
        size_t slot = n_slots;
        token eq;
        if (t.kind == TK_NAME && (st = lex(&p, t.end, &eq)) != CNB_OK) return st;
        if (t.kind == TK_NAME && eq.kind == TK_EQ) {
            for (size_t j = 0; j < n_slots; j++)
                if (name_is(&p, &t, slots[j].name)) slot = j;
            if (slot == n_slots) return unknown_argument(&p, who, &t, slots, n_slots);
            if (seen[slot])
                return cnb_fail(err, CNB_E_PARSE, "%s: got multiple values for argument '%s' (column %zu)", who,
                                slots[slot].name, t.pos + 1);
            keywords = true;
            p.pos = eq.end;
        } else {
            value ignored;
            if (keywords || n_positional >= n_slots) {
                // Read the value first, so a syntax error in it is reported as such.
                if ((st = parse_value(&p, &ignored))) return st;
                char tok[SHOW_SIZE];
                show(&p, ignored.pos, ignored.end, tok);
                if (keywords)
                    return cnb_fail(err, CNB_E_PARSE, "%s: positional argument %s follows keyword arguments (column %zu)",
                                    who, tok, ignored.pos + 1);
                return cnb_fail(err, CNB_E_PARSE, "%s: too many positional arguments (it takes at most %zu), %s at "
                                "column %zu", who, n_slots, tok, ignored.pos + 1);
            }
            slot = n_positional++;
        }
        value v;
        if ((st = parse_value(&p, &v))) return st;
        if ((st = apply(&p, who, &slots[slot], &v))) return st;
        seen[slot] = true;
        if ((st = next(&p, &t))) return st;
        if (t.kind == TK_RPAR) break;
        if (t.kind != TK_COMMA) return syntax_error(&p, &t, "',' or ')'");
    }
    p.pos = t.end;
    size_t close = t.pos;
    if ((st = next(&p, &t))) return st;
    if (t.kind != TK_END) return syntax_error(&p, &t, NULL);
    for (size_t j = 0; j < n_slots; j++)
        if (slots[j].required && !seen[j])
            return cnb_fail(err, CNB_E_PARSE, "%s: missing required argument '%s' (column %zu)", who, slots[j].name,
                            close + 1);
    *layer = l;
    return CNB_OK;
}

/* ---- printing ------------------------------------------------------------------------------------- */

/* snprintf into a buffer that may run out: the length keeps counting, as snprintf's does. */
typedef struct out {
    char *buf;
    size_t size, len;
} out;

CNB_PRINTF(2, 3) static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *dst = o->buf && o->len < o->size ? o->buf + o->len : NULL;
    int n = vsnprintf(dst, dst ? o->size - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void put_pair(out *o, const char *name, const int64_t v[2], bool one) {
    if (one) put(o, ", %s=(%" PRId64 ",)", name, v[0]);
    else put(o, ", %s=(%" PRId64 ", %" PRId64 ")", name, v[0], v[1]);
}

static const char *py_bool(bool b) { return b ? "True" : "False"; }

/* The shortest %g form that reads back as the same double, always with a '.' or exponent so it reads
 * back as a float (1.0, not 1); non-finite values come out as nan/inf, which the parser refuses. */
static void put_real(out *o, const char *name, double v) {
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (strtod(s, NULL) == v) break;
    }
    if (isfinite(v) && !strpbrk(s, ".eE")) strcat(s, ".0");
    put(o, ", %s=%s", name, s);
}

int cnb_spec_format(const cnb_layer *layer, char *buf, size_t size) {
    out o = {.buf = buf, .size = size, .len = 0};
    if (buf && size) buf[0] = '\0';
    if (!layer || (unsigned)layer->kind >= CNB_KIND_COUNT) return -1;
    const char *who = cnb_kind_name(layer->kind);
    switch (layer->kind) {
    case CNB_CONV1D:
    case CNB_CONV2D: {
        static const char *const modes[] = {"zeros", "reflect", "replicate", "circular"};
        const cnb_conv_params *c = &layer->u.conv;
        bool one = layer->kind == CNB_CONV1D;
        put(&o, "%s(%" PRId64 ", %" PRId64, who, c->in_channels, c->out_channels);
        put_pair(&o, "kernel_size", c->kernel_size, one);
        put_pair(&o, "stride", c->stride, one);
        if (c->padding_kind == CNB_PADDING_SAME) put(&o, ", padding='same'");
        else if (c->padding_kind == CNB_PADDING_VALID) put(&o, ", padding='valid'");
        else put_pair(&o, "padding", c->padding, one);
        put_pair(&o, "dilation", c->dilation, one);
        put(&o, ", groups=%" PRId64 ", bias=%s, padding_mode='%s')", c->groups, py_bool(c->bias),
            (unsigned)c->padding_mode < 4 ? modes[c->padding_mode] : "?");
        break;
    }
    case CNB_MAXPOOL2D: {
        const cnb_maxpool2d_params *m = &layer->u.maxpool2d;
        put(&o, "%s(kernel_size=(%" PRId64 ", %" PRId64 ")", who, m->kernel_size[0], m->kernel_size[1]);
        if (m->stride_given) put_pair(&o, "stride", m->stride, false);
        else put(&o, ", stride=None");
        put_pair(&o, "padding", m->padding, false);
        put_pair(&o, "dilation", m->dilation, false);
        put(&o, ", return_indices=%s, ceil_mode=%s)", py_bool(m->return_indices), py_bool(m->ceil_mode));
        break;
    }
    case CNB_AVGPOOL2D: {
        const cnb_avgpool2d_params *a = &layer->u.avgpool2d;
        put(&o, "%s(kernel_size=(%" PRId64 ", %" PRId64 ")", who, a->kernel_size[0], a->kernel_size[1]);
        if (a->stride_given) put_pair(&o, "stride", a->stride, false);
        else put(&o, ", stride=None");
        put_pair(&o, "padding", a->padding, false);
        put(&o, ", ceil_mode=%s, count_include_pad=%s", py_bool(a->ceil_mode), py_bool(a->count_include_pad));
        if (a->divisor_override_given) put(&o, ", divisor_override=%" PRId64 ")", a->divisor_override);
        else put(&o, ", divisor_override=None)");
        break;
    }
    case CNB_ADAPTIVEAVGPOOL2D: {
        const int64_t *s = layer->u.adaptiveavgpool2d.output_size;
        put(&o, "%s(output_size=(", who);
        for (int j = 0; j < 2; j++) {
            if (s[j] < 0) put(&o, "%sNone", j ? ", " : "");
            else put(&o, "%s%" PRId64, j ? ", " : "", s[j]);
        }
        put(&o, "))");
        break;
    }
    case CNB_BATCHNORM2D: {
        const cnb_batchnorm2d_params *b = &layer->u.batchnorm2d;
        put(&o, "%s(%" PRId64, who, b->num_features);
        put_real(&o, "eps", b->eps);
        if (b->momentum_given) put_real(&o, "momentum", b->momentum);
        else put(&o, ", momentum=None");
        put(&o, ", affine=%s, track_running_stats=%s)", py_bool(b->affine), py_bool(b->track_running_stats));
        break;
    }
    default:
        break;
    }
    return o.len > (size_t)INT32_MAX ? -1 : (int)o.len;
}

bool cnb_parse_shape(const char *s, cnb_shape *shape, char *msg, size_t msg_size) {
    memset(shape, 0, sizeof *shape);
    const char *p = s;
    while (*p == ' ' || *p == '(' || *p == '[') p++;
    while (*p && *p != ')' && *p != ']') {
        if (shape->ndim == CNB_MAX_DIMS) {
            snprintf(msg, msg_size, "shape '%s' has more than %d dimensions", s, CNB_MAX_DIMS);
            return false;
        }
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0) {
            snprintf(msg, msg_size, "shape '%s': expected a non-negative integer at '%s'", s, p);
            return false;
        }
        shape->dims[shape->ndim++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',' || *p == 'x') p++;
        while (*p == ' ') p++;
    }
    if (*p == ')' || *p == ']') p++;
    while (*p == ' ') p++;
    if (*p || shape->ndim == 0) {
        snprintf(msg, msg_size, "shape '%s' is not a list like N,C,H,W", s);
        return false;
    }
    return true;
}
