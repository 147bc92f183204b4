/* lipcl tests — status codes: names and strings come from one list, values are pinned, and
 * OpenCL error names are known. No device needed. */
#include <string.h>

#include "check.h"

int main(void) {
    CHECK(strcmp(lip_status_name(LIP_OK), "LIP_OK") == 0);
    CHECK(strcmp(lip_status_name(LIP_ERR_SHAPE), "LIP_ERR_SHAPE") == 0);
    CHECK(strcmp(lip_status_name(LIP_ERR_OUT_OF_DEVICE_MEMORY), "LIP_ERR_OUT_OF_DEVICE_MEMORY") == 0);
    CHECK(strcmp(lip_status_name((lip_status)999), "LIP_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(lip_status_string((lip_status)-5), "unknown status") == 0);
    /* Pinned values: these are ABI. */
    CHECK(LIP_OK == 0 && LIP_ERR_INVALID_ARGUMENT == 1 && LIP_ERR_SHAPE == 3 && LIP_ERR_OUT_OF_DEVICE_MEMORY == 6 &&
          LIP_ERR_BUILD == 8 && LIP_ERR_BUSY == 15 && LIP_ERR_BOUNDS == 17);
    /* Every code has a distinct name and a non-empty description. */
    const lip_status all[] = {
#define ALL_(name, value, text) name,
        LIP_STATUS_MAP(ALL_)
#undef ALL_
    };
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(strncmp(lip_status_name(all[i]), "LIP_", 4) == 0);
        CHECK(strlen(lip_status_string(all[i])) > 3);
        for (size_t j = 0; j < i; j++) CHECK(strcmp(lip_status_name(all[i]), lip_status_name(all[j])) != 0);
    }
    CHECK(strcmp(lip_cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES") == 0);
    CHECK(strcmp(lip_cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE") == 0);
    CHECK(strcmp(lip_cl_error_name(-12345), "CL_UNKNOWN_ERROR") == 0);
    CHECK(lip_version_number() == LIP_VERSION_NUMBER);
    CHECK(strchr(lip_version_string(), '.') != NULL);
    /* NULL handles are accepted where documented and never crash. */
    CHECK(strcmp(lip_context_last_error(NULL), "") == 0);
    CHECK_STATUS(lip_context_free(NULL), LIP_OK);
    lip_tensor_free(NULL);
    CHECK_STATUS(lip_context_create(NULL, NULL), LIP_ERR_NULL);
    CHECK_STATUS(lip_device_count(NULL), LIP_ERR_NULL);
    return test_finish("test_status");
}
