/*
 * Peak fused multiply-add throughput of one core, and whether two cores share it: 12 independent
 * FMA chains in registers (no memory traffic), 128-bit (the width of wasm SIMD, which our kernels
 * use) or 256-bit (AVX2). Run one copy, then two at once: if the two vCPUs were SMT siblings of
 * one physical core, each copy would get about half. Not part of the project's build: a probe of
 * the machine, to read kernel figures against (docs/performance.md).
 *
 *   gcc -O3 -funroll-all-loops -mavx2 -mfma bench/fma_probe.c -o /tmp/fma_probe
 *   /tmp/fma_probe 600000000 128; (/tmp/fma_probe 600000000 128 & /tmp/fma_probe 600000000 128; wait)
 *   /tmp/fma_probe 300000000 256; (/tmp/fma_probe 300000000 256 & /tmp/fma_probe 300000000 256; wait)
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fma_probe ITERATIONS 128|256\n");
    return 2;
  }
  long iters = atol(argv[1]);
  int width = atoi(argv[2]);
  double t0 = now();
  float out = 0;
  if (width == 128) {
    __m128 a[12], m = _mm_set1_ps(0.999999f), c = _mm_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
      for (int i = 0; i < 12; i++) a[i] = _mm_fmadd_ps(a[i], m, c);
    for (int i = 0; i < 12; i++) out += a[i][0];
    printf("128-bit: %.1f GFLOP/s\n", iters * 12.0 * 4 * 2 / (now() - t0) / 1e9);
  } else {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
      for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    for (int i = 0; i < 12; i++) out += a[i][0];
    printf("256-bit: %.1f GFLOP/s\n", iters * 12.0 * 8 * 2 / (now() - t0) / 1e9);
  }
  return out == 12345.0f; /* keeps the chains live */
}
