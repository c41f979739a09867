/* Building blocks of `cnnbench report`'s self-contained HTML: a growing text buffer with XML escaping,
 * linear and logarithmic scales with readable ticks, number formatting, a colour palette, and the SVG
 * pieces every chart shares (frame, axes with grid lines, legend). No chart logic lives here. */
#ifndef CNB_HARNESS_SVG_H
#define CNB_HARNESS_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* A growing, NUL-terminated text buffer. Allocation failure sets oom and drops later writes, so callers
 * check once at the end. Zero-initialise; release with cnb_buf_free. */
typedef struct cnb_buf {
    char *s;
    size_t len, cap;
    bool oom;
} cnb_buf;

void cnb_buf_printf(cnb_buf *b, const char *fmt, ...) CNB_PRINTF(2, 3);
void cnb_buf_puts(cnb_buf *b, const char *s);
/* s with & < > " ' escaped, usable in HTML/SVG text and attribute values. */
void cnb_buf_esc(cnb_buf *b, const char *s);
void cnb_buf_free(cnb_buf *b);

/* Maps data values in [d0, d1] to pixels [p0, p1]; log scales need d0, d1 > 0. */
typedef struct cnb_scale {
    double d0, d1, p0, p1;
    bool log;
} cnb_scale;

double cnb_scale_map(const cnb_scale *s, double v);
/* Up to max tick values inside [d0, d1]: 1-2-5 steps on linear scales, powers of ten on log scales (with
 * 2 and 5 between them when the range spans fewer than three decades). Returns the count. */
size_t cnb_scale_ticks(const cnb_scale *s, double *ticks, size_t max);
/* The smallest 1, 2, 2.5 or 5 times a power of ten that is >= v (v > 0). */
double cnb_nice_ceil(double v);
/* An axis end for data up to v (v > 0): v rounded up to a multiple of a 1-2-2.5-5 step of about v / 5. */
double cnb_nice_max(double v);
/* Powers of ten around [lo, hi] (both > 0): lo rounded down, hi rounded up. */
void cnb_decade_range(double lo, double hi, double *dlo, double *dhi);

/* v with three significant digits and no exponent for 1e-3 <= |v| < 1e6 ("0.0123", "1.5", "123", "45600"). */
void cnb_fmt_num(char *buf, size_t size, double v);
/* A duration given in ns, in the unit that reads best ("812 ns", "1.23 ms", "2.04 s"). */
void cnb_fmt_time(char *buf, size_t size, double ns);

/* The i-th colour of a palette of distinguishable colours ("#1f77b4"), cycling after its end. */
const char *cnb_svg_color(size_t i);

/* <svg> with the given id and class, width x height pixels and an accessible title; cnb_svg_close ends it. */
void cnb_svg_open(cnb_buf *b, const char *id, const char *cls, double w, double h, const char *title);
void cnb_svg_close(cnb_buf *b);
/* Escaped text at (x, y); anchor is "start", "middle" or "end"; rotate in degrees about (x, y) (0: none). */
void cnb_svg_text(cnb_buf *b, double x, double y, const char *anchor, double rotate, const char *cls,
                  const char *text);
/* A horizontal axis at pixel row y, with grid lines up to row y_top and tick labels below; label under it. */
void cnb_svg_axis_x(cnb_buf *b, const cnb_scale *s, double y, double y_top, const char *label);
/* The same with the given tick values (thread counts, say) instead of computed ones. */
void cnb_svg_axis_x_at(cnb_buf *b, const cnb_scale *s, const double *ticks, size_t n, double y, double y_top,
                       const char *label);
/* A vertical axis at pixel column x, with grid lines to column x_right and tick labels left of it; label
 * rotated along it. */
void cnb_svg_axis_y(cnb_buf *b, const cnb_scale *s, double x, double x_right, const char *label);

/* One legend entry: a swatch of colour and its escaped label at (x, y); returns the x after it. */
double cnb_svg_legend_item(cnb_buf *b, double x, double y, const char *color, const char *label);

#endif /* CNB_HARNESS_SVG_H */
