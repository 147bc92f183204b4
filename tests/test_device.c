/* lipcl tests — device listing and selection by every LIPCL_DEVICE form (index, P:D, cpu, gpu,
 * name substring), the default, unknown devices, and adopting an application's own cl_context. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "check.h"

static int logged_error = 0;
static void count_errors(lip_log_level level, const char *text, void *user) {
    (void)text;
    (void)user;
    if (level == LIP_LOG_ERROR) logged_error++;
}

int main(void) {
    size_t n = 0;
    lip_status st = lip_device_count(&n);
    if (st == LIP_ERR_NO_DEVICE) {
        printf("no OpenCL device: skipped\n");
        return 77;
    }
    CHECK_OK(st);
    lip_device_info infos[16];
    CHECK_OK(lip_device_list(infos, 16, &n));
    CHECK(n >= 1);
    for (size_t i = 0; i < n && i < 16; i++) {
        printf("device %zu = %d:%d %s / %s, %u CUs, %llu MiB, fp64 %d, compiler %d, %s\n", i,
               infos[i].platform_index, infos[i].device_index, infos[i].platform_name, infos[i].device_name,
               infos[i].compute_units, (unsigned long long)(infos[i].global_mem_bytes >> 20), infos[i].fp64,
               infos[i].compiler_available, infos[i].opencl_c_version);
        CHECK(infos[i].index == (int)i);
        CHECK(infos[i].device_name[0] != '\0');
        CHECK(infos[i].compute_units >= 1);
        CHECK(infos[i].global_mem_bytes > 0);
    }
    /* The env-free forms. Unset LIPCL_DEVICE so the default rule is what we test. */
    const char *saved_env = getenv("LIPCL_DEVICE");
    char *saved = saved_env ? strdup(saved_env) : NULL;
    unsetenv("LIPCL_DEVICE");
    int idx = -1;
    char msg[256];
    CHECK_OK(lip_device_select(NULL, &idx, msg, sizeof msg));
    int expected_default = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        if (infos[i].is_gpu) {
            expected_default = (int)i;
            break;
        }
    CHECK(idx == expected_default);

    int last = (int)n - 1;
    char spec[64];
    snprintf(spec, sizeof spec, "%d", last);
    CHECK_OK(lip_device_select(spec, &idx, msg, sizeof msg));
    CHECK(idx == last);
    snprintf(spec, sizeof spec, "%d:%d", infos[last].platform_index, infos[last].device_index);
    CHECK_OK(lip_device_select(spec, &idx, msg, sizeof msg));
    CHECK(idx == last);
    /* A case-insensitive substring of the device name. */
    char sub[16];
    size_t len = strlen(infos[0].device_name);
    size_t from = len > 6 ? len / 2 - 3 : 0;
    snprintf(sub, sizeof sub, "%.6s", infos[0].device_name + from);
    for (char *p = sub; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    CHECK_OK(lip_device_select(sub, &idx, msg, sizeof msg));
    CHECK(strstr(infos[idx].device_name, infos[0].device_name + from) != NULL || idx == 0);
    /* cpu / gpu: must pick a device of that type, or fail clearly when there is none. */
    int have_cpu = 0, have_gpu = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        have_cpu |= infos[i].is_cpu;
        have_gpu |= infos[i].is_gpu;
    }
    st = lip_device_select("cpu", &idx, msg, sizeof msg);
    if (have_cpu) {
        CHECK_OK(st);
        CHECK(infos[idx].is_cpu);
    } else {
        CHECK_STATUS(st, LIP_ERR_NO_DEVICE);
    }
    st = lip_device_select("gpu", &idx, msg, sizeof msg);
    if (have_gpu) {
        CHECK_OK(st);
        CHECK(infos[idx].is_gpu);
    } else {
        CHECK_STATUS(st, LIP_ERR_NO_DEVICE);
        CHECK(strstr(msg, "'gpu'") != NULL);
    }
    /* Unknown devices fail with a message naming what was asked. */
    CHECK_STATUS(lip_device_select("99", &idx, msg, sizeof msg), LIP_ERR_NO_DEVICE);
    CHECK(strstr(msg, "out of range") != NULL);
    CHECK_STATUS(lip_device_select("7:3", &idx, msg, sizeof msg), LIP_ERR_NO_DEVICE);
    CHECK(strstr(msg, "platform 7") != NULL);
    CHECK_STATUS(lip_device_select("no-such-device-xyz", &idx, msg, sizeof msg), LIP_ERR_NO_DEVICE);
    CHECK(strstr(msg, "no-such-device-xyz") != NULL);

    /* The environment is read only when the caller gives no device. */
    setenv("LIPCL_DEVICE", "no-such-device-xyz", 1);
    CHECK_STATUS(lip_device_select(NULL, &idx, msg, sizeof msg), LIP_ERR_NO_DEVICE);
    CHECK(strstr(msg, "LIPCL_DEVICE") != NULL);
    snprintf(spec, sizeof spec, "%d", last);
    CHECK_OK(lip_device_select(spec, &idx, msg, sizeof msg));
    lip_context_config cfg = lip_context_config_default();
    cfg.log = count_errors;
    lip_context *ctx = NULL;
    CHECK_STATUS(lip_context_create(&ctx, &cfg), LIP_ERR_NO_DEVICE);
    CHECK(ctx == NULL);
    CHECK(logged_error == 1); /* no context to hold the message: it goes to the log */
    setenv("LIPCL_DEVICE", spec, 1);
    CHECK_OK(lip_device_select(NULL, &idx, msg, sizeof msg));
    CHECK(idx == last);
    if (saved)
        setenv("LIPCL_DEVICE", saved, 1);
    else
        unsetenv("LIPCL_DEVICE");
    free(saved);

    /* Adopt an application's own context and queue. */
    lip_context *mine = test_context();
    cl_context clc;
    cl_device_id dev;
    cl_command_queue q;
    CHECK_OK(lip_context_cl(mine, &clc, &dev, &q));
    lip_context *adopted = NULL;
    CHECK_OK(lip_context_create_from_cl(&adopted, clc, dev, q, NULL));
    CHECK_OK(lip_context_create_from_cl(&ctx, clc, dev, NULL, NULL)); /* makes its own queue */
    lip_device_info a, b;
    CHECK_OK(lip_context_device_info(mine, &a));
    CHECK_OK(lip_context_device_info(adopted, &b));
    CHECK(strcmp(a.device_name, b.device_name) == 0);
    float host[5] = {1, 2, 3, 4, 5}, back[5] = {0};
    size_t shape[1] = {5};
    lip_tensor *t = NULL;
    test_ctx_for_messages = adopted;
    CHECK_OK(lip_tensor_create(adopted, LIP_FLOAT32, 1, shape, &t));
    CHECK_OK(lip_tensor_upload(t, host, sizeof host));
    CHECK_OK(lip_tensor_download(t, back, sizeof back));
    CHECK(memcmp(host, back, sizeof host) == 0);
    lip_tensor_free(t);
    CHECK_OK(lip_context_free(adopted)); /* releases only its references */
    CHECK_OK(lip_context_free(ctx));
    CHECK_STATUS(lip_context_create_from_cl(&ctx, NULL, dev, NULL, NULL), LIP_ERR_NULL);
    test_ctx_for_messages = mine;
    CHECK_OK(lip_tensor_create(mine, LIP_FLOAT32, 1, shape, &t)); /* the original still works */
    lip_tensor_free(t);
    test_context_free(mine);
    return test_finish("test_device");
}
