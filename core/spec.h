/* The layer-spec parser: a PyTorch constructor call, as written in Python or printed by print(module),
 * e.g. "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)",
 * "MaxPool2d(3, stride=2, padding=1, return_indices=True, ceil_mode=True)", "AdaptiveAvgPool2d((7, None))",
 * "BatchNorm2d(64, eps=1e-05, momentum=None)". Positional or keyword arguments, ints or tuples/lists,
 * quoted or unquoted strings, None, True/False. Anything else is refused with a message that quotes the
 * offending part and its column. */
#ifndef CNB_CORE_SPEC_H
#define CNB_CORE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "cnnbench.h"

/* Parse spec into *layer (BatchNorm2d's training flag is left false: it is the module's mode, not a
 * constructor argument). Only the syntax and the argument types are checked here; value checks
 * (positive sizes, divisibility ...) are cnb_output_shape's. */
cnb_status cnb_spec_parse(const char *spec, cnb_layer *layer, cnb_error *err);

/* Write layer as a spec that cnb_spec_parse reads back to the same layer (the form print(module)
 * uses, with every argument spelled out). Returns the length it needed, like snprintf. */
int cnb_spec_format(const cnb_layer *layer, char *buf, size_t size);

/* Parse an input shape "N,C,H,W" (also "NxCxHxW", "(N, C, H, W)"): false with a message in msg. */
bool cnb_parse_shape(const char *s, cnb_shape *shape, char *msg, size_t msg_size);

#endif /* CNB_CORE_SPEC_H */
