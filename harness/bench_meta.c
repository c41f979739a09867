/* The context block of result files (bench_meta.h); the build facts come from core/planfile.c. */
#include <stdio.h>
#include <string.h>

#include "cnnbench.h"
#include "core/planfile.h"
#include "harness/bench_meta.h"

void cnb_machine_fingerprint(const cnb_topo *t, char *buf, size_t size) {
    char f[64];
    snprintf(buf, size, "%s|%s|%d cores", t->cpu_model, cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f),
             cnb_topo_cores(t));
}

// The library's own build id: plan files written by `cnnbench tune` carry it, and the library checks it.
void cnb_build_fingerprint(char *buf, size_t size) { cnb_build_id(buf, size); }

// The architecture this binary runs as, spelled as Linux's /proc/sys/kernel/arch (uname -m) spells it.
#if defined(__aarch64__)
#define CNB_ARCH "aarch64"
#elif defined(__x86_64__)
#define CNB_ARCH "x86_64"
#else
#define CNB_ARCH ""
#endif

// First line of path without its newline, or "" when it cannot be read.
static void read_line(const char *path, char *buf, size_t size) {
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(buf, (int)size, f)) buf[0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

// qemu-user fakes what a guest asks the kernel about itself (uname, auxv, /proc/self/maps and exe) but not
// the host kernel's own files, so the evidence comes from those, most direct first:
// 1. /proc/sys/kernel/arch (Linux >= 6.1): the kernel's architecture, which differs from the binary's;
// 2. /proc/cpuinfo in the other architecture's format (qemu 7.2 passes the host's through): x86's
//    "vendor_id"/"flags" lines under an AArch64 binary, AArch64's "CPU implementer" under an x86 one;
// 3. /proc/self/status naming the process qemu-* (qemu started by hand rather than through binfmt_misc).
// Native hardware shows none of these.
bool cnb_emulated(char *why, size_t size) {
    char line[256];
    why[0] = 0;
    read_line("/proc/sys/kernel/arch", line, sizeof line);
    if (line[0] && CNB_ARCH[0] && strcmp(line, CNB_ARCH)) {
        snprintf(why, size, "kernel architecture %s (/proc/sys/kernel/arch), binary " CNB_ARCH, line);
        return true;
    }
    bool x86_lines = false, arm_lines = false;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "vendor_id", 9) || !strncmp(line, "flags", 5)) x86_lines = true;
            if (!strncmp(line, "CPU implementer", 15)) arm_lines = true;
        }
        fclose(f);
    }
    if (!strcmp(CNB_ARCH, "aarch64") && x86_lines && !arm_lines) {
        snprintf(why, size, "/proc/cpuinfo describes an x86 CPU, binary aarch64");
        return true;
    }
    if (!strcmp(CNB_ARCH, "x86_64") && arm_lines && !x86_lines) {
        snprintf(why, size, "/proc/cpuinfo describes an AArch64 CPU, binary x86_64");
        return true;
    }
    f = fopen("/proc/self/status", "r");
    if (f) {
        bool qemu = false;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Name:", 5)) {
                const char *n = line + 5 + strspn(line + 5, " \t");
                qemu = !strncmp(n, "qemu-", 5);
                break;
            }
        fclose(f);
        if (qemu) {
            snprintf(why, size, "the process is named qemu-* (/proc/self/status)");
            return true;
        }
    }
    return false;
}

json_t *cnb_bench_context_json(const cnb_topo *t, const cnb_peaks *p) {
    char machine[512], build[512], f[64], g[64];
    cnb_machine_fingerprint(t, machine, sizeof machine);
    cnb_build_fingerprint(build, sizeof build);
    json_t *caches = json_pack("{s:I, s:I, s:I}", "l1d", (json_int_t)cnb_topo_cache_size(t, 1), "l2",
                               (json_int_t)cnb_topo_cache_size(t, 2), "l3", (json_int_t)cnb_topo_cache_size(t, 3));
    json_t *topo = json_pack("{s:i, s:i, s:i, s:o*}", "packages", t->packages, "cores", cnb_topo_cores(t), "pus", t->pus,
                             "caches", caches);
    const cnb_build_facts *bf = cnb_build_facts_here();
    char emu[256];
    const bool emulated = cnb_emulated(emu, sizeof emu);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o*, s:o*, s:s, s:s, s:b, s:s}", "version", bf->version,
                     "git_commit", bf->git_commit, "compiler", bf->compiler, "flags", bf->flags, "cpu_model",
                     t->cpu_model, "features", cnb_isa_names(cnb_cpu_features_detected(), f, sizeof f),
                     "features_used", cnb_isa_names(cnb_cpu_features(), g, sizeof g), "topology", topo, "peaks",
                     cnb_peaks_to_json(p), "machine", machine, "build", build, "emulated", emulated,
                     "emulation", emulated ? emu : "");
}
