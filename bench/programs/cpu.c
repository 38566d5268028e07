/* CPU benchmark guest: integer hashing over a buffer, a heap sort, and a double-precision
   matrix multiply. Prints a checksum (must be equal on every machine), the instructions it
   retired (minstret delta) and the mtime ticks (10 MHz) the work took. Bare metal: UART
   16550 at 0x1000_0000, started by crt0.S. */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)
#define MTIME ((volatile uint64_t *)0x200bff8)

#ifndef SCALE
#define SCALE 4
#endif

static void putc_(char c) {
  while ((UART[5] & 0x20) == 0) {
  }
  UART[0] = (uint8_t)c;
}
static void puts_(const char *s) {
  while (*s) putc_(*s++);
}
static void putdec(uint64_t v) {
  char b[24];
  int n = 0;
  do {
    b[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) putc_(b[--n]);
}
static void puthex(uint64_t v) {
  for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static inline uint64_t rdinstret(void) {
  uint64_t v;
  __asm__ volatile("csrr %0, minstret" : "=r"(v));
  return v;
}

#define BUF_WORDS (64 * 1024 / 8)
static uint64_t buf[BUF_WORDS];
#define SORT_N 16384
static uint32_t keys[SORT_N];
#define MAT_N 48
static double ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static uint64_t hash_pass(uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (int i = 0; i < BUF_WORDS; i++) {
    uint64_t w = buf[i];
    h ^= w;
    h *= 0x100000001b3ull;
    h ^= h >> 29;
    buf[i] = w + (h & 0xff);
  }
  /* byte-granular part: unaligned-friendly loads */
  const uint8_t *p = (const uint8_t *)buf;
  for (int i = 0; i < 8192; i++) h = (h << 5) + h + p[(i * 7) & (sizeof buf - 1)];
  return h;
}

static void sift(uint32_t *a, int start, int end) {
  int root = start;
  while (2 * root + 1 <= end) {
    int child = 2 * root + 1;
    if (child + 1 <= end && a[child] < a[child + 1]) child++;
    if (a[root] < a[child]) {
      uint32_t t = a[root];
      a[root] = a[child];
      a[child] = t;
      root = child;
    } else {
      return;
    }
  }
}
static uint64_t heap_sort(void) {
  for (int i = 0; i < SORT_N; i++) keys[i] = (uint32_t)next_rand();
  for (int s = SORT_N / 2 - 1; s >= 0; s--) sift(keys, s, SORT_N - 1);
  for (int e = SORT_N - 1; e > 0; e--) {
    uint32_t t = keys[0];
    keys[0] = keys[e];
    keys[e] = t;
    sift(keys, 0, e - 1);
  }
  uint64_t h = 0;
  for (int i = 0; i < SORT_N; i++) {
    if (i && keys[i - 1] > keys[i]) return 0xbad;
    h = h * 31 + keys[i];
  }
  return h;
}

static uint64_t matmul(int round) {
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      ma[i][j] = (double)((i * 7 + j * 3 + round) % 17) / 8.0 - 1.0;
      mb[i][j] = (double)((i * 5 + j * 11 + round) % 13) / 4.0 + 0.5;
    }
  for (int i = 0; i < MAT_N; i++)
    for (int j = 0; j < MAT_N; j++) {
      double s = 0.0;
      for (int k = 0; k < MAT_N; k++) s += ma[i][k] * mb[k][j];
      mc[i][j] = s;
    }
  double t = 0.0;
  for (int i = 0; i < MAT_N; i++) t += mc[i][i] * (i + 1) + mc[i][MAT_N - 1 - i];
  union { double d; uint64_t u; } v = { t };
  return v.u;
}

int main(void) {
  for (int i = 0; i < BUF_WORDS; i++) buf[i] = next_rand();
  uint64_t t0 = *MTIME;
  uint64_t i0 = rdinstret();
  uint64_t sum = 0;
  for (int r = 0; r < SCALE; r++) {
    for (int k = 0; k < 4; k++) sum = sum * 3 + hash_pass(sum + k);
    sum ^= heap_sort();
    for (int k = 0; k < 3; k++) sum += matmul(r * 3 + k);
  }
  uint64_t i1 = rdinstret();
  uint64_t t1 = *MTIME;
  puts_("checksum ");
  puthex(sum);
  puts_("\ninstret ");
  putdec(i1 - i0);
  puts_("\nmtime ");
  putdec(t1 - t0);
  puts_("\n");
  return 0;
}
