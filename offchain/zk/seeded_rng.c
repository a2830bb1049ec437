/* Seeded randomness for Groth16 DEV setups (offchain/zk/dev_setup.py), loaded with LD_PRELOAD into the one
 * process that runs groth16py's setup. groth16py (arkworks) draws its toxic waste from the OS RNG; this library
 * interposes getrandom()/getentropy() and syscall(SYS_getrandom, ...) (Rust's getrandom crate uses the latter) and,
 * once voai_seed_activate(key) has been called, answers them from a ChaCha20 stream keyed by `key`; before that
 * every call goes to the real function. Same key and same circuit => byte-identical keys.
 * DEV ONLY: anyone who knows the seed knows the toxic waste and can forge proofs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

static uint32_t key[8];
static uint64_t counter;
static uint8_t block[64];
static size_t used = 64;
static int state = 0;  /* 1 once voai_seed_activate was called */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

#define ROTL(a, b) (((a) << (b)) | ((a) >> (32 - (b))))
#define QR(a, b, c, d) (a += b, d ^= a, d = ROTL(d, 16), c += d, b ^= c, b = ROTL(b, 12), \
                        a += b, d ^= a, d = ROTL(d, 8), c += d, b ^= c, b = ROTL(b, 7))

static void chacha_block(void) {
    uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
    memcpy(in + 4, key, 32);
    in[12] = (uint32_t)counter; in[13] = (uint32_t)(counter >> 32); in[14] = 0; in[15] = 0;
    uint32_t x[16];
    memcpy(x, in, sizeof x);
    for (int i = 0; i < 10; ++i) {
        QR(x[0], x[4], x[8], x[12]); QR(x[1], x[5], x[9], x[13]); QR(x[2], x[6], x[10], x[14]); QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]); QR(x[1], x[6], x[11], x[12]); QR(x[2], x[7], x[8], x[13]); QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; ++i) {
        uint32_t v = x[i] + in[i];
        block[4 * i] = v; block[4 * i + 1] = v >> 8; block[4 * i + 2] = v >> 16; block[4 * i + 3] = v >> 24;
    }
    counter++;
    used = 0;
}

/* Called (through ctypes) right before the setup: from here on getrandom draws from ChaCha20(key), counter 0. */
void voai_seed_activate(const uint8_t k[32]) {
    pthread_mutex_lock(&lock);
    memcpy(key, k, 32);
    counter = 0;
    used = 64;
    state = 1;
    pthread_mutex_unlock(&lock);
}

static void fill(uint8_t *out, size_t len) {
    while (len) {
        if (used == 64) chacha_block();
        size_t n = 64 - used < len ? 64 - used : len;
        memcpy(out, block + used, n);
        used += n; out += n; len -= n;
    }
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags) {
    pthread_mutex_lock(&lock);
    int on = state;
    if (on) fill(buf, len);
    pthread_mutex_unlock(&lock);
    if (on) return (ssize_t)len;
    ssize_t (*real)(void *, size_t, unsigned int) = (ssize_t (*)(void *, size_t, unsigned int))dlsym(RTLD_NEXT, "getrandom");
    if (!real) { errno = ENOSYS; return -1; }
    return real(buf, len, flags);
}

int getentropy(void *buf, size_t len) {
    if (len > 256) { errno = EIO; return -1; }
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/* Rust's getrandom crate calls syscall(SYS_getrandom, ...) rather than the libc function. */
long syscall(long number, ...) {
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_getrandom) {
        pthread_mutex_lock(&lock);
            int on = state;
        if (on) fill((uint8_t *)a[0], (size_t)a[1]);
        pthread_mutex_unlock(&lock);
        if (on) return a[1];
    }
    long (*real)(long, ...) = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
