/* .npy reading and writing (NumPy format versions 1.0, 2.0 and 3.0): little-endian float32 ('<f4') and
 * int64 ('<i8') arrays in C order, 0 to CNB_MAX_DIMS dimensions. Malformed, truncated, wrong-dtype,
 * big-endian, Fortran-order or oversized files are refused with a message naming the file and problem. */
#ifndef CNB_HARNESS_NPY_H
#define CNB_HARNESS_NPY_H

#include <stdint.h>

#include "cnnbench.h"

/* Read a '<f4' array: *data comes from cnb_malloc (core/alloc.h: free() it, or cnb_free in a test that counts
 * allocations), *shape its shape. On error nothing is allocated. */
cnb_status cnb_npy_read_f32(const char *path, cnb_shape *shape, float **data, cnb_error *err);
/* Read a '<i8' array, likewise. */
cnb_status cnb_npy_read_i64(const char *path, cnb_shape *shape, int64_t **data, cnb_error *err);

/* Write an array as a version 1.0 .npy file ('<f4' / '<i8', C order). On failure the file is removed. */
cnb_status cnb_npy_write_f32(const char *path, const cnb_shape *shape, const float *data, cnb_error *err);
cnb_status cnb_npy_write_i64(const char *path, const cnb_shape *shape, const int64_t *data, cnb_error *err);

#endif /* CNB_HARNESS_NPY_H */
