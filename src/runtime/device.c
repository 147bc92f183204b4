/* lipcl — OpenCL device listing and selection (LIPCL_DEVICE forms: index, P:D, cpu, gpu, name).
 * Works without a context so tools can show what a device string picks. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define LIP_MAX_PLATFORMS 16
#define LIP_MAX_DEVICES 64

static void info_string(cl_device_id d, cl_device_info what, char *out, size_t size) {
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, size, out, NULL) != CL_SUCCESS) out[0] = '\0';
    out[size - 1] = '\0';
}

void lip_device_fill_info(cl_platform_id p, cl_device_id d, lip_device_info *info) {
    memset(info, 0, sizeof *info);
    clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name, NULL);
    clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof info->platform_version, info->platform_version, NULL);
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    info->platform_version[sizeof info->platform_version - 1] = '\0';
    info_string(d, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    info_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    info_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    info_string(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
    info->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    info->is_accelerator = (type & CL_DEVICE_TYPE_ACCELERATOR) != 0;
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_VENDOR_ID, sizeof u, &u, NULL);
    info->vendor_id = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    info->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    info->max_clock_mhz = u;
    cl_ulong ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL);
    info->global_mem_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL);
    info->max_alloc_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL);
    info->local_mem_bytes = ul;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->max_work_group_size = wg;
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL);
    info->fp64 = fp != 0;
    cl_bool comp = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof comp, &comp, NULL);
    info->compiler_available = comp == CL_TRUE;
}

/* Every (platform, device) pair in a fixed order: platforms as the ICD lists them, devices within. */
typedef struct {
    cl_platform_id platform[LIP_MAX_DEVICES];
    cl_device_id device[LIP_MAX_DEVICES];
    int pindex[LIP_MAX_DEVICES], dindex[LIP_MAX_DEVICES];
    int count;
} device_table;

static lip_status enumerate(device_table *t) {
    cl_platform_id plats[LIP_MAX_PLATFORMS];
    cl_uint np = 0;
    t->count = 0;
    if (clGetPlatformIDs(LIP_MAX_PLATFORMS, plats, &np) != CL_SUCCESS || np == 0) return LIP_ERR_NO_DEVICE;
    if (np > LIP_MAX_PLATFORMS) np = LIP_MAX_PLATFORMS;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[LIP_MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, LIP_MAX_DEVICES, devs, &nd) != CL_SUCCESS) continue;
        if (nd > LIP_MAX_DEVICES) nd = LIP_MAX_DEVICES;
        for (cl_uint d = 0; d < nd && t->count < LIP_MAX_DEVICES; d++) {
            t->platform[t->count] = plats[p];
            t->device[t->count] = devs[d];
            t->pindex[t->count] = (int)p;
            t->dindex[t->count] = (int)d;
            t->count++;
        }
    }
    return t->count > 0 ? LIP_OK : LIP_ERR_NO_DEVICE;
}

lip_status lip_device_count(size_t *count) {
    if (!count) return LIP_ERR_NULL;
    return lip_device_list(NULL, 0, count);
}

lip_status lip_device_list(lip_device_info *infos, size_t capacity, size_t *count) {
    if (!count || (capacity > 0 && !infos)) return LIP_ERR_NULL;
    device_table t;
    lip_status st = enumerate(&t);
    *count = (size_t)t.count;
    if (st != LIP_OK) return st;
    for (int i = 0; i < t.count && (size_t)i < capacity; i++) {
        lip_device_fill_info(t.platform[i], t.device[i], &infos[i]);
        infos[i].index = i;
        infos[i].platform_index = t.pindex[i];
        infos[i].device_index = t.dindex[i];
    }
    return LIP_OK;
}

static int contains_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static int parse_uint(const char *s, int *out) {
    if (!*s) return 0;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || v > 100000) return 0;
        v = v * 10 + (*p - '0');
    }
    *out = (int)v;
    return 1;
}

/* Resolve `spec` against the table; writes an explanation on failure. */
static lip_status select_in(const device_table *t, const char *spec, int *index, char *msg, size_t msg_size) {
    lip_device_info info;
    const char *source = "argument";
    if (!spec || !*spec) {
        spec = getenv("LIPCL_DEVICE");
        source = "LIPCL_DEVICE";
    }
    if (!spec || !*spec) { /* default: first GPU, else first device */
        for (int i = 0; i < t->count; i++) {
            cl_device_type type = 0;
            clGetDeviceInfo(t->device[i], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            if (type & CL_DEVICE_TYPE_GPU) {
                *index = i;
                return LIP_OK;
            }
        }
        *index = 0;
        return LIP_OK;
    }
    int a = -1, b = -1;
    const char *colon = strchr(spec, ':');
    if (parse_uint(spec, &a)) {
        if (a < t->count) {
            *index = a;
            return LIP_OK;
        }
        snprintf(msg, msg_size, "device %s '%s': index out of range (%d device%s)", source, spec, t->count,
                 t->count == 1 ? "" : "s");
        return LIP_ERR_NO_DEVICE;
    }
    if (colon && colon != spec) {
        char left[32];
        size_t n = (size_t)(colon - spec);
        if (n < sizeof left) {
            memcpy(left, spec, n);
            left[n] = '\0';
            if (parse_uint(left, &a) && parse_uint(colon + 1, &b)) {
                for (int i = 0; i < t->count; i++)
                    if (t->pindex[i] == a && t->dindex[i] == b) {
                        *index = i;
                        return LIP_OK;
                    }
                snprintf(msg, msg_size, "device %s '%s': no device %d on platform %d", source, spec, b, a);
                return LIP_ERR_NO_DEVICE;
            }
        }
    }
    int want_gpu = strcmp(spec, "gpu") == 0 || strcmp(spec, "GPU") == 0;
    int want_cpu = strcmp(spec, "cpu") == 0 || strcmp(spec, "CPU") == 0;
    for (int i = 0; i < t->count; i++) {
        lip_device_fill_info(t->platform[i], t->device[i], &info);
        if ((want_gpu && info.is_gpu) || (want_cpu && info.is_cpu)) {
            *index = i;
            return LIP_OK;
        }
        if (!want_gpu && !want_cpu) {
            char both[300];
            snprintf(both, sizeof both, "%s %s", info.platform_name, info.device_name);
            if (contains_nocase(both, spec)) {
                *index = i;
                return LIP_OK;
            }
        }
    }
    snprintf(msg, msg_size, "device %s '%s' matches none of the %d OpenCL device%s", source, spec, t->count,
             t->count == 1 ? "" : "s");
    return LIP_ERR_NO_DEVICE;
}

lip_status lip_device_select(const char *spec, int *index, char *message, size_t message_size) {
    char local[256];
    if (!message || message_size == 0) {
        message = local;
        message_size = sizeof local;
    }
    message[0] = '\0';
    if (!index) return LIP_ERR_NULL;
    device_table t;
    if (enumerate(&t) != LIP_OK) {
        snprintf(message, message_size, "no OpenCL platform or device found (is an ICD such as PoCL installed?)");
        return LIP_ERR_NO_DEVICE;
    }
    return select_in(&t, spec, index, message, message_size);
}

lip_status lip_device_resolve(const char *spec, cl_platform_id *platform, cl_device_id *device, int *index,
                              char *message, size_t message_size) {
    device_table t;
    message[0] = '\0';
    if (enumerate(&t) != LIP_OK) {
        snprintf(message, message_size, "no OpenCL platform or device found (is an ICD such as PoCL installed?)");
        return LIP_ERR_NO_DEVICE;
    }
    lip_status st = select_in(&t, spec, index, message, message_size);
    if (st != LIP_OK) return st;
    *platform = t.platform[*index];
    *device = t.device[*index];
    return LIP_OK;
}
