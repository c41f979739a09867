// libFuzzer target: the .npy readers (harness/npy.h) on arbitrary file contents, through the file API
// itself (a memory file: see fuzz.h). Either reader refuses the bytes with a one-line message and
// allocates nothing, or the array it returns accounts for every byte of the file, and writing it back
// and reading that gives the same shape and the same bits.
#include "tests/fuzz/fuzz.h"

#include "harness/npy.h"

static int64_t numel(const cnb_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];  // the reader checked the byte count fits
    return n;
}

static void one(const uint8_t *data, size_t size, bool ints) {
    const char *path = fuzz_file(data, size);
    cnb_shape shape;
    memset(&shape, 0xa5, sizeof shape);
    void *arr = (void *)1;
    cnb_error e = {0};
    cnb_status st = ints ? cnb_npy_read_i64(path, &shape, (int64_t **)&arr, &e)
                         : cnb_npy_read_f32(path, &shape, (float **)&arr, &e);
    if (st) {
        fuzz_check_error(st, &e);
        FUZZ_CHECK(arr == NULL, "a failed read left data");
        return;
    }
    FUZZ_CHECK(arr != NULL, "a successful read gave no data");
    FUZZ_CHECK(shape.ndim >= 0 && shape.ndim <= CNB_MAX_DIMS, "ndim %d", shape.ndim);
    for (int i = 0; i < shape.ndim; i++) FUZZ_CHECK(shape.dims[i] >= 0, "dimension %d negative", i);
    const size_t item = ints ? 8 : 4, bytes = (size_t)numel(&shape) * item;
    FUZZ_CHECK(bytes <= size && !memcmp(data + size - bytes, arr, bytes), "the data is not the file's last %zu bytes",
               bytes);

    // Round trip: what was read is written as a 1.0 file and read back.
    uint8_t *copy = malloc(bytes ? bytes : 1);
    FUZZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, arr, bytes);
    free(arr);
    st = ints ? cnb_npy_write_i64(path, &shape, (const int64_t *)copy, &e) : cnb_npy_write_f32(path, &shape, (const float *)copy, &e);
    FUZZ_CHECK(st == CNB_OK, "writing back what was read failed: %s", e.msg);
    cnb_shape back;
    st = ints ? cnb_npy_read_i64(path, &back, (int64_t **)&arr, &e) : cnb_npy_read_f32(path, &back, (float **)&arr, &e);
    FUZZ_CHECK(st == CNB_OK, "reading back what was written failed: %s", e.msg);
    FUZZ_CHECK(back.ndim == shape.ndim, "ndim %d, then %d", shape.ndim, back.ndim);
    for (int i = 0; i < shape.ndim; i++) FUZZ_CHECK(back.dims[i] == shape.dims[i], "dimension %d changed", i);
    FUZZ_CHECK(!memcmp(arr, copy, bytes), "the data changed");
    free(arr);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size, false);
    one(data, size, true);
    return 0;
}
