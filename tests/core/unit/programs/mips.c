/* CPU-bound mix for measuring interpreter speed: CRC32 (loads, shifts, branches), a sieve
   (stores, loops), insertion sort (loads/stores/compares), and 64-bit multiply/divide. */
#define UART ((volatile unsigned char *)0x10000000)
static void puts_(const char *s) { while (*s) *UART = *s++; }
static void puthex(unsigned long v) {
  char b[17];
  for (int i = 15; i >= 0; i--) { b[i] = "0123456789abcdef"[v & 15]; v >>= 4; }
  b[16] = 0;
  puts_(b);
}
static unsigned char buf[4096];
static unsigned char sieve[8192];
static int arr[256];

static unsigned crc32(const unsigned char *p, int n) {
  unsigned c = 0xffffffff;
  for (int i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c;
}

int main(void) {
  unsigned long acc = 0;
  for (int i = 0; i < 4096; i++) buf[i] = (unsigned char)(i * 131 + 7);
  for (int round = 0; round < ROUNDS; round++) {
    acc += crc32(buf, 1024);
    for (int i = 0; i < 8192; i++) sieve[i] = 1;
    int primes = 0;
    for (int i = 2; i < 8192; i++) {
      if (!sieve[i]) continue;
      primes++;
      for (int j = i * 2; j < 8192; j += i) sieve[j] = 0;
    }
    acc += primes;
    unsigned x = 12345 + round;
    for (int i = 0; i < 256; i++) { x = x * 1103515245 + 12345; arr[i] = (int)(x >> 8); }
    for (int i = 1; i < 256; i++) {
      int v = arr[i], j = i - 1;
      while (j >= 0 && arr[j] > v) { arr[j + 1] = arr[j]; j--; }
      arr[j + 1] = v;
    }
    acc += (unsigned long)arr[128];
    unsigned long m = 0x9e3779b97f4a7c15ul;
    for (int i = 1; i < 200; i++) acc += (m * (unsigned long)i) / (unsigned long)(i + 3);
  }
  puts_("acc=");
  puthex(acc);
  puts_("\n");
  return 0;
}
