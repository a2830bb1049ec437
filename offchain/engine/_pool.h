/* A persistent worker pool for the engine's C kernels (included by _kernels.c and _rowops.c; each module has its
 * own pool). Starting and joining a pthread per call costs ~50-100 us, as much as a whole MiniLM LINEAR on two
 * threads; the workers here start once and wait on a condition variable between calls.
 *
 * pool_run(fn, jobs, size, count) runs fn on job t = jobs + t * size for t < count and returns when all are done.
 * The caller runs jobs too (it claims them like a worker), so the results and completion never depend on how many
 * workers are alive: after a fork() the child has none (pthread_atfork resets the count) and the caller runs every
 * job itself. One batch at a time: a caller that finds the pool busy (another Python thread inside a kernel, the
 * GIL being released) runs its whole batch on its own thread. Every job writes only its own outputs, so the order
 * jobs run in never changes a value.
 */
#ifndef OFFCHAIN_POOL_H
#define OFFCHAIN_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define POOL_MAX 64
/* How long a worker that finished a batch, or a caller waiting for one, polls before sleeping on a condition
 * variable. A forward calls the kernels every few tens of microseconds, and a small product is done before a
 * sleeping worker wakes: MiniLM's 128 x 384 x 384 LINEAR on the AMX path took 101 us on two threads against 57 us
 * on one with sleeping workers, 34 us with polling ones. The poll yields the CPU (sched_yield) to any other
 * runnable thread, so it only uses a core nothing else wants. */
#define POOL_SPIN_NS 200000

typedef void *(*PoolFn)(void *);

static struct {
    pthread_mutex_t mu;       /* guards everything below */
    pthread_cond_t wake;      /* a batch has jobs to claim */
    pthread_cond_t done;      /* the batch's last job finished */
    pthread_mutex_t dispatch; /* held by the caller for a whole batch */
    int workers;              /* started worker threads */
    PoolFn fn;
    char *jobs;
    size_t size;
    int count, next;
    atomic_int remaining;      /* jobs of the batch not finished */
    atomic_uint batches;       /* batches posted so far: a polling worker watches it */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
          0, NULL, NULL, 0, 0, 0, 0, 0};

static int64_t pool_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls (yielding) until done() or POOL_SPIN_NS pass; called without pool.mu. */
static void pool_poll(int (*done)(unsigned), unsigned arg) {
    int64_t end = pool_now_ns() + POOL_SPIN_NS;
    for (int i = 0; !done(arg); i++) {
        if ((i & 15) == 15 && pool_now_ns() > end) return;
        sched_yield();
    }
}

static int pool_batch_posted(unsigned seen) { return atomic_load(&pool.batches) != seen; }
static int pool_batch_done(unsigned unused) {
    (void)unused;
    return atomic_load(&pool.remaining) == 0;
}

/* Claims and runs jobs of the current batch until none is left; called and returns with pool.mu held. */
static void pool_drain(void) {
    while (pool.next < pool.count) {
        int t = pool.next++;
        PoolFn fn = pool.fn;
        char *job = pool.jobs + (size_t)t * pool.size;
        pthread_mutex_unlock(&pool.mu);
        fn(job);
        pthread_mutex_lock(&pool.mu);
        if (atomic_fetch_sub(&pool.remaining, 1) == 1) pthread_cond_signal(&pool.done);
    }
}

static void *pool_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        if (pool.next >= pool.count) {
            unsigned seen = atomic_load(&pool.batches);
            pthread_mutex_unlock(&pool.mu);
            pool_poll(pool_batch_posted, seen);
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.next >= pool.count) pthread_cond_wait(&pool.wake, &pool.mu);
        pool_drain();
    }
    return NULL;
}

static void pool_after_fork_child(void) {
    /* the child has no workers; the locks are re-initialised (the forking thread may not have held them) */
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER, dispatch = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
    pool.mu = mu;
    pool.dispatch = dispatch;
    pool.wake = wake;
    pool.done = done;
    pool.workers = 0;
    pool.count = pool.next = 0;
    atomic_store(&pool.remaining, 0);
}

static void pool_run(PoolFn fn, void *jobs, size_t size, int count) {
    if (count <= 1 || pthread_mutex_trylock(&pool.dispatch) != 0) {
        for (int t = 0; t < count; t++) fn((char *)jobs + (size_t)t * size);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    while (pool.workers < count - 1 && pool.workers < POOL_MAX) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, pool_worker, NULL) != 0) break; /* the caller runs what is left */
        pthread_detach(tid);
        pool.workers++;
    }
    pool.fn = fn;
    pool.jobs = jobs;
    pool.size = size;
    pool.count = count;
    pool.next = 0;
    atomic_store(&pool.remaining, count);
    atomic_fetch_add(&pool.batches, 1);
    pthread_cond_broadcast(&pool.wake);
    pool_drain();
    if (atomic_load(&pool.remaining) > 0) {
        pthread_mutex_unlock(&pool.mu);
        pool_poll(pool_batch_done, 0);
        pthread_mutex_lock(&pool.mu);
    }
    while (atomic_load(&pool.remaining) > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pool.count = pool.next = 0;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.dispatch);
}

/* Registers the fork handler; call once at module init. */
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_after_fork_child); }

#endif
