// lipcl tests — the public headers compile as C++ and link without name mangling.
#include "lipcl/lipcl.h"

#include <cstdio>
#include <cstring>

int main() {
    if (std::strcmp(lip_status_name(LIP_ERR_SHAPE), "LIP_ERR_SHAPE") != 0) return 1;
    if (lip_version_number() != LIP_VERSION_NUMBER) return 1;
    lip_context_config c = lip_context_config_default();
    std::printf("C++: lipcl %s, default seed %llu\n", lip_version_string(), (unsigned long long)c.seed);
    std::printf("1 passed, 0 failed\n");
    return 0;
}
