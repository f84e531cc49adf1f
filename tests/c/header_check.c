/*
 * Compiles include/sdrt.h as C11 with -Wall -Wextra -Werror -pedantic and prints what the C
 * compiler sees (version macros, struct sizes and field offsets) for tests/c_api.rs to compare
 * with Cargo.toml and with the Rust definitions. Needs no model and no ONNX Runtime.
 */

#include "sdrt.h"
#include "sdrt.h" /* the include guard makes a second inclusion harmless */

#include <stddef.h>
#include <stdio.h>

#include "header_layout.h"

/* In C the enumerations are uint32_t typedefs: the same size as the uint32_t fields. */
_Static_assert(sizeof(sdrt_status) == 4, "sdrt_status is 32-bit");
_Static_assert(sizeof(sdrt_provider) == 4, "sdrt_provider is 32-bit");
_Static_assert(SDRT_OK == 0, "SDRT_OK is 0");
_Static_assert(offsetof(sdrt_runtime_options, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sdrt_pipeline_options, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sdrt_generate_params, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(sdrt_pipeline_info, struct_size) == 0, "struct_size first");

#define SIZE(T) printf("size %s %u\n", #T, (unsigned)sizeof(T));
#define FIELD(T, f) printf("offset %s.%s %u\n", #T, #f, (unsigned)offsetof(T, f));

int main(void) {
    printf("macros %d.%d.%d abi %d\n", SDRT_VERSION_MAJOR, SDRT_VERSION_MINOR,
           SDRT_VERSION_PATCH, SDRT_ABI_VERSION);
    printf("library %s abi %u\n", sdrt_version(), sdrt_abi_version());
    SDRT_TEST_LAYOUT(SIZE, FIELD)
    return 0;
}
