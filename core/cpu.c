/* Run-time CPU feature detection, done once (call_once): x86-64 reads CPUID and XGETBV (the OS must
 * save YMM/ZMM state, as ncnn and Linux check); AArch64 reads getauxval(AT_HWCAP). The environment
 * variable CNB_ISA=scalar|avx2|avx512|neon caps the detected bits, as libjpeg-turbo's JSIMD_FORCE* does.
 * No ISA flags here: this file must run on any CPU of the architecture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "cnnbench.h"
#include "core/cpu.h"

#if CNB_HAVE_HWLOC
#include <hwloc.h>
#endif
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t detect(void) {
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27);
    if (!osxsave) return 0;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6) return 0;                        // XMM and YMM state enabled by the OS
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & (1u << 5)) f |= CNB_ISA_AVX2;
    if (fma) f |= CNB_ISA_FMA;
    if ((b & (1u << 16)) && (xcr0 & 0xe6) == 0xe6) f |= CNB_ISA_AVX512F;  // opmask, ZMM_Hi256, Hi16_ZMM
    return f;
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
// Bit numbers from the Linux arm64 ABI (arch/arm64/include/uapi/asm/hwcap.h), for older headers.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1 << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
// fp16, dotprod and sve are reported only: no implementation needs them, so dispatch is unchanged.
static uint32_t detect(void) {
    const unsigned long hw = getauxval(AT_HWCAP);
    if (!(hw & HWCAP_ASIMD)) return 0;
    uint32_t f = CNB_ISA_NEON;
    if ((hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP)) f |= CNB_ISA_FP16;
    if (hw & HWCAP_ASIMDDP) f |= CNB_ISA_DOTPROD;
    if (hw & HWCAP_SVE) f |= CNB_ISA_SVE;
    return f;
}
#else
static uint32_t detect(void) { return 0; }
#endif

/* Written once under call_once, read-only afterwards. */
static once_flag g_once = ONCE_FLAG_INIT;
static uint32_t g_detected, g_capped;

static uint32_t cap_from_env(uint32_t have) {
    const char *e = getenv("CNB_ISA");
    if (!e || !*e) return have;
    if (!strcmp(e, "scalar")) return 0;
    if (!strcmp(e, "avx2")) return have & (CNB_ISA_AVX2 | CNB_ISA_FMA);
    if (!strcmp(e, "avx512")) return have & (CNB_ISA_AVX2 | CNB_ISA_FMA | CNB_ISA_AVX512F);
    if (!strcmp(e, "neon")) return have & (CNB_ISA_NEON | CNB_ISA_FP16 | CNB_ISA_DOTPROD);
    fprintf(stderr, "cnnbench: warning: CNB_ISA='%s' is not one of scalar|avx2|avx512|neon; ignored\n", e);
    return have;
}

static void init_features(void) {
    g_detected = detect();
    g_capped = cap_from_env(g_detected);
}

uint32_t cnb_cpu_features(void) {
    call_once(&g_once, init_features);
    return g_capped;
}

uint32_t cnb_cpu_features_detected(void) {
    call_once(&g_once, init_features);
    return g_detected;
}

const char *cnb_isa_names(uint32_t f, char *buf, size_t size) {
    static const struct { uint32_t bit; const char *name; } k[] = {
        {CNB_ISA_AVX2, "avx2"}, {CNB_ISA_FMA, "fma"}, {CNB_ISA_AVX512F, "avx512f"}, {CNB_ISA_NEON, "neon"},
        {CNB_ISA_FP16, "fp16"}, {CNB_ISA_DOTPROD, "dotprod"}, {CNB_ISA_SVE, "sve"},
    };
    size_t n = 0;
    if (!buf || !size) return "";
    buf[0] = 0;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if ((f & k[i].bit) && n < size)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", k[i].name);
    if (!n) snprintf(buf, size, "none");
    return buf;
}

/* ---- cache sizes ---- */

static once_flag g_cache_once = ONCE_FLAG_INIT;
static cnb_caches g_caches;

#if CNB_HAVE_HWLOC
/* Smallest data/unified cache of a level: the share one core can count on. */
static size_t hwloc_level(hwloc_topology_t t, hwloc_obj_type_t type) {
    size_t best = 0;
    const int n = hwloc_get_nbobjs_by_type(t, type);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(t, type, (unsigned)i);
        if (!o->attr || o->attr->cache.type == HWLOC_OBJ_CACHE_INSTRUCTION) continue;
        const size_t s = (size_t)o->attr->cache.size;
        if (s && (!best || s < best)) best = s;
    }
    return best;
}
#endif

static void init_caches(void) {
    cnb_caches c = {0};
#if CNB_HAVE_HWLOC
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            c.l1d = hwloc_level(t, HWLOC_OBJ_L1CACHE);
            c.l2 = hwloc_level(t, HWLOC_OBJ_L2CACHE);
            c.l3 = hwloc_level(t, HWLOC_OBJ_L3CACHE);
            c.source = "hwloc";
        }
        hwloc_topology_destroy(t);
    }
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    if (!c.l1d || !c.l2) {
        const long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (l1 > 0 && l2 > 0) {
            c.l1d = (size_t)l1, c.l2 = (size_t)l2, c.l3 = l3 > 0 ? (size_t)l3 : 0;
            c.source = "sysconf";
        }
    }
#endif
    if (!c.l1d || !c.l2) {
        // Conservative for any current core: blocking sized for these still fits.
        c.l1d = 32u << 10, c.l2 = 256u << 10, c.l3 = 0;
        c.source = "default";
    }
    g_caches = c;
}

const cnb_caches *cnb_cpu_caches(void) {
    call_once(&g_cache_once, init_caches);
    return &g_caches;
}

bool cnb_cpu_fits_llc(double bytes) {
    const double l3 = (double)cnb_cpu_caches()->l3, cap = 16.0 * 1024 * 1024;
    return bytes <= (0.5 * l3 < cap ? 0.5 * l3 : cap);
}
