/* lipcl-info — lists OpenCL platforms and devices with the properties lipcl cares about, says
 * which device LIPCL_DEVICE selects, and times building every kernel cold and from the cache. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lipcl/lipcl.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *f) {
    fprintf(f, "usage: lipcl-info [--quick] [--device SPEC]\n"
               "  Lists OpenCL devices and the one lipcl selects, then times building every kernel\n"
               "  program cold (lipcl's and PoCL's caches empty) and warm (from the binary cache).\n"
               "  --quick        skip the build timing\n"
               "  --device SPEC  device to time (index, P:D, cpu, gpu or a name substring;\n"
               "                 default: $LIPCL_DEVICE, else the first GPU, else the first device)\n");
}

/* Child mode: build every program on `spec` and print the seconds it took. */
static int measure_build(const char *spec) {
    lip_context_config c = lip_context_config_default();
    c.device = spec && *spec ? spec : NULL;
    lip_context *ctx = NULL;
    double t0 = now();
    lip_status st = lip_context_create(&ctx, &c);
    if (st != LIP_OK) {
        fprintf(stderr, "lipcl-info: %s\n", lip_status_string(st));
        return 1;
    }
    st = lip_context_warm(ctx);
    double t = now() - t0;
    if (st != LIP_OK) {
        fprintf(stderr, "lipcl-info: building kernels failed: %s\n", lip_context_last_error(ctx));
        lip_context_free(ctx);
        return 1;
    }
    lip_cache_stats s;
    lip_context_cache_stats(ctx, &s);
    printf("%.3f %lu %lu\n", t, s.builds, s.disk_hits);
    lip_context_free(ctx);
    return 0;
}

/* Run ourselves in child mode; returns seconds, fills the counts. -1 on failure. */
static double run_child(const char *self, const char *spec, unsigned long *builds, unsigned long *hits) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --measure-build '%s'", self, spec ? spec : "");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    double t = -1;
    if (fscanf(p, "%lf %lu %lu", &t, builds, hits) != 3) t = -1;
    int rc = pclose(p);
    return rc == 0 ? t : -1;
}

static const char *yes(int b) { return b ? "yes" : "no"; }

int main(int argc, char **argv) {
    int quick = 0;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--measure-build") == 0 && i + 1 < argc) return measure_build(argv[i + 1]);
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            spec = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "lipcl-info: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    printf("lipcl %s\n", lip_version_string());
    size_t n = 0;
    if (lip_device_count(&n) != LIP_OK || n == 0) {
        printf("No OpenCL device found. Install an ICD (e.g. Debian's pocl-opencl-icd) and check 'clinfo -l'.\n");
        return 1;
    }
    lip_device_info *infos = calloc(n, sizeof *infos);
    if (!infos) return 1;
    lip_device_list(infos, n, &n);
    int last_platform = -1;
    for (size_t i = 0; i < n; i++) {
        const lip_device_info *d = &infos[i];
        if (d->platform_index != last_platform) {
            printf("Platform %d: %s (%s)\n", d->platform_index, d->platform_name, d->platform_version);
            last_platform = d->platform_index;
        }
        printf("  [%d] %d:%d %s\n", d->index, d->platform_index, d->device_index, d->device_name);
        printf("      type %s, vendor %s (0x%x), driver %s\n",
               d->is_gpu ? "GPU" : d->is_cpu ? "CPU" : d->is_accelerator ? "accelerator" : "other", d->vendor,
               d->vendor_id, d->driver_version);
        printf("      compute units %u, clock %u MHz, global memory %.2f GiB, max allocation %.2f GiB,\n"
               "      local memory %llu KiB, max work-group %zu, fp64 %s, compiler %s, %s\n",
               d->compute_units, d->max_clock_mhz, (double)d->global_mem_bytes / (1u << 30),
               (double)d->max_alloc_bytes / (1u << 30), (unsigned long long)(d->local_mem_bytes >> 10),
               d->max_work_group_size, yes(d->fp64), yes(d->compiler_available), d->opencl_c_version);
    }
    int index = -1;
    char msg[256];
    const char *env = getenv("LIPCL_DEVICE");
    lip_status st = lip_device_select(spec, &index, msg, sizeof msg);
    if (st == LIP_OK)
        printf("Selected: [%d] %s (%s%s%s)\n", index, infos[index].device_name,
               spec ? "--device " : env && *env ? "LIPCL_DEVICE=" : "default: first GPU, else first device",
               spec ? spec : env && *env ? env : "", "");
    else
        printf("Selection failed: %s\n", msg);
    free(infos);
    if (quick || st != LIP_OK) return st == LIP_OK ? 0 : 1;

    /* Cold: fresh lipcl and PoCL caches in a temporary folder; warm: the same, second run. */
    char tmpl[] = "/tmp/lipcl-info-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return 1;
    char lipdir[512], pocldir[512], self[1024];
    snprintf(lipdir, sizeof lipdir, "%s/lipcl", dir);
    snprintf(pocldir, sizeof pocldir, "%s/pocl", dir);
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) snprintf(self, sizeof self, "%s", argv[0]);
    else self[len] = '\0';
    setenv("LIPCL_CACHE_DIR", lipdir, 1);
    setenv("POCL_CACHE_DIR", pocldir, 1);
    unsetenv("LIPCL_CACHE_DISABLE");
    unsigned long b1 = 0, h1 = 0, b2 = 0, h2 = 0;
    double cold = run_child(self, spec, &b1, &h1);
    double warm = run_child(self, spec, &b2, &h2);
    char cleanup[1100];
    snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", dir);
    if (system(cleanup) != 0) fprintf(stderr, "lipcl-info: could not remove %s\n", dir);
    if (cold < 0 || warm < 0) {
        printf("Kernel build timing failed.\n");
        return 1;
    }
    printf("Kernel programs: %lu; cold build %.2f s (lipcl and PoCL caches empty), warm %.3f s (%lu from lipcl's "
           "binary cache)\n",
           b1, cold, warm, h2);
    return 0;
}
