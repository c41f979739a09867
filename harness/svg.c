/* The shared pieces of `cnnbench report`'s HTML and SVG (svg.h): text buffer, scales and ticks, number
 * formats, palette, axes and legend entries. Coordinates are written with one decimal: enough for a
 * screen, and it keeps reports of large suites small. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/svg.h"

static bool buf_reserve(cnb_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *g = realloc(b->s, cap);
    if (!g) {
        b->oom = true;
        return false;
    }
    b->s = g;
    b->cap = cap;
    return true;
}

void cnb_buf_printf(cnb_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cnb_buf_puts(cnb_buf *b, const char *s) {
    size_t n = strlen(s);
    if (!buf_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void cnb_buf_esc(cnb_buf *b, const char *s) {
    for (const char *c = s ? s : ""; *c; c++) {
        switch (*c) {
        case '&': cnb_buf_puts(b, "&amp;"); break;
        case '<': cnb_buf_puts(b, "&lt;"); break;
        case '>': cnb_buf_puts(b, "&gt;"); break;
        case '"': cnb_buf_puts(b, "&quot;"); break;
        case '\'': cnb_buf_puts(b, "&#39;"); break;
        default:
            // Control characters are not allowed in XML text; a result file could carry one in a message.
            if ((unsigned char)*c < 0x20 && *c != '\n' && *c != '\t') {
                cnb_buf_puts(b, " ");
            } else if (buf_reserve(b, 1)) {
                b->s[b->len++] = *c;
                b->s[b->len] = 0;
            }
        }
    }
}

void cnb_buf_free(cnb_buf *b) {
    free(b->s);
    *b = (cnb_buf){0};
}

double cnb_scale_map(const cnb_scale *s, double v) {
    double f;
    if (s->log) f = (log10(v) - log10(s->d0)) / (log10(s->d1) - log10(s->d0));
    else f = (v - s->d0) / (s->d1 - s->d0);
    if (!isfinite(f)) f = 0;
    return s->p0 + f * (s->p1 - s->p0);
}

double cnb_nice_ceil(double v) {
    if (!(v > 0) || !isfinite(v)) return 1;
    double p = pow(10, floor(log10(v)));
    static const double steps[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] * p >= v * (1 - 1e-12)) return steps[i] * p;
    return 10 * p;
}

double cnb_nice_max(double v) {
    double step = cnb_nice_ceil(v / 5);
    return ceil(v / step - 1e-9) * step;
}

void cnb_decade_range(double lo, double hi, double *dlo, double *dhi) {
    *dlo = pow(10, floor(log10(lo) + 1e-9));
    *dhi = pow(10, ceil(log10(hi) - 1e-9));
    if (*dhi <= *dlo) *dhi = *dlo * 10;
}

size_t cnb_scale_ticks(const cnb_scale *s, double *ticks, size_t max) {
    size_t n = 0;
    double lo = fmin(s->d0, s->d1), hi = fmax(s->d0, s->d1);
    if (s->log) {
        if (!(lo > 0)) return 0;
        double decades = log10(hi / lo);
        static const double all[] = {1, 2, 5}, one[] = {1};
        const double *mult = decades < 3 ? all : one;
        size_t nm = decades < 3 ? 3 : 1;
        // Above 8 decades, label every other one.
        int stride = decades > 8 ? 2 : 1;
        for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)) && n < max; e += stride) {
            for (size_t m = 0; m < nm && n < max; m++) {
                double v = mult[m] * pow(10, e);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks[n++] = v;
            }
        }
        return n;
    }
    if (!(hi > lo)) return 0;
    double step = cnb_nice_ceil((hi - lo) / 6);
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step)
        ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

void cnb_fmt_num(char *buf, size_t size, double v) {
    double a = fabs(v);
    if (!isfinite(v)) {
        snprintf(buf, size, "%s", isnan(v) ? "-" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (a >= 1e6 || (a < 1e-3 && a > 0)) {
        snprintf(buf, size, "%.3g", v);
        return;
    }
    int dec = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 3 : a >= 0.01 ? 4 : 5;
    snprintf(buf, size, "%.*f", dec, v);
    // Trailing zeros say nothing on an axis: "2.50" -> "2.5", "1.00" -> "1".
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf);
        while (end > dot + 1 && end[-1] == '0') *--end = 0;
        if (end == dot + 1) *dot = 0;
    }
}

void cnb_fmt_time(char *buf, size_t size, double ns) {
    static const struct { double ns; const char *unit; } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
    if (!(ns > 0) || !isfinite(ns)) {
        snprintf(buf, size, "-");
        return;
    }
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && ns < units[u].ns) u++;
    double v = ns / units[u].ns;
    snprintf(buf, size, "%.*f %s", v >= 100 ? 1 : v >= 10 ? 2 : 3, v, units[u].unit);
}

const char *cnb_svg_color(size_t i) {
    // Tableau 10, then its light variants: distinguishable, and readable on white.
    static const char *const pal[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                      "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
                                      "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};
    return pal[i % (sizeof pal / sizeof pal[0])];
}

void cnb_svg_open(cnb_buf *b, const char *id, const char *cls, double w, double h, const char *title) {
    // Inline SVG in HTML needs no xmlns: the HTML parser puts <svg> in the SVG namespace.
    cnb_buf_puts(b, "<svg id=\"");
    cnb_buf_esc(b, id);
    cnb_buf_puts(b, "\" class=\"chart ");
    cnb_buf_esc(b, cls);
    cnb_buf_printf(b, "\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", w, h, w, h);
    cnb_buf_esc(b, title);
    cnb_buf_puts(b, "\">\n<title>");
    cnb_buf_esc(b, title);
    cnb_buf_puts(b, "</title>\n");
}

void cnb_svg_close(cnb_buf *b) {
    cnb_buf_puts(b, "</svg>\n");
}

void cnb_svg_text(cnb_buf *b, double x, double y, const char *anchor, double rotate, const char *cls,
                  const char *text) {
    cnb_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
    if (anchor && strcmp(anchor, "start")) cnb_buf_printf(b, " text-anchor=\"%s\"", anchor);
    if (rotate != 0) cnb_buf_printf(b, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    if (cls && *cls) cnb_buf_printf(b, " class=\"%s\"", cls);
    cnb_buf_puts(b, ">");
    cnb_buf_esc(b, text);
    cnb_buf_puts(b, "</text>\n");
}

void cnb_svg_axis_x(cnb_buf *b, const cnb_scale *s, double y, double y_top, const char *label) {
    double t[64];
    size_t n = cnb_scale_ticks(s, t, 64);
    cnb_svg_axis_x_at(b, s, t, n, y, y_top, label);
}

void cnb_svg_axis_x_at(cnb_buf *b, const cnb_scale *s, const double *t, size_t n, double y, double y_top,
                       const char *label) {
    cnb_buf_puts(b, "<g class=\"axis\">\n");
    for (size_t i = 0; i < n; i++) {
        double x = cnb_scale_map(s, t[i]);
        char lab[32];
        cnb_fmt_num(lab, sizeof lab, t[i]);
        // Minor log ticks (2, 5) get a lighter grid line.
        bool minor = s->log && fabs(log10(t[i]) - round(log10(t[i]))) > 1e-9;
        cnb_buf_printf(b, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       minor ? "grid minor" : "grid", x, y, x, y_top);
        cnb_svg_text(b, x, y + 14, "middle", 0, "tick", lab);
    }
    cnb_buf_printf(b, "<line class=\"axisline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", fmin(s->p0, s->p1),
                   y, fmax(s->p0, s->p1), y);
    if (label) cnb_svg_text(b, (s->p0 + s->p1) / 2, y + 32, "middle", 0, "axislabel", label);
    cnb_buf_puts(b, "</g>\n");
}

void cnb_svg_axis_y(cnb_buf *b, const cnb_scale *s, double x, double x_right, const char *label) {
    double t[64];
    size_t n = cnb_scale_ticks(s, t, 64);
    cnb_buf_puts(b, "<g class=\"axis\">\n");
    for (size_t i = 0; i < n; i++) {
        double y = cnb_scale_map(s, t[i]);
        char lab[32];
        cnb_fmt_num(lab, sizeof lab, t[i]);
        bool minor = s->log && fabs(log10(t[i]) - round(log10(t[i]))) > 1e-9;
        cnb_buf_printf(b, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                       minor ? "grid minor" : "grid", x, y, x_right, y);
        cnb_svg_text(b, x - 5, y + 4, "end", 0, "tick", lab);
    }
    cnb_buf_printf(b, "<line class=\"axisline\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
                   fmin(s->p0, s->p1), x, fmax(s->p0, s->p1));
    if (label) cnb_svg_text(b, x - 44, (s->p0 + s->p1) / 2, "middle", -90, "axislabel", label);
    cnb_buf_puts(b, "</g>\n");
}

double cnb_svg_legend_item(cnb_buf *b, double x, double y, const char *color, const char *label) {
    cnb_buf_printf(b, "<rect class=\"swatch\" x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                   y - 10, color);
    cnb_svg_text(b, x + 16, y, "start", 0, "legend", label);
    // About 6.6 px per character at the 11 px legend font, plus the swatch and a gap.
    return x + 16 + 6.6 * (double)strlen(label) + 18;
}
