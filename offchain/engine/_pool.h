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

#define POOL_MAX 64

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
    int count, next, remaining;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
          0, NULL, NULL, 0, 0, 0, 0};

/* Claims and runs jobs of the current batch until none is left; called and returns with pool.mu held. */
static void pool_drain(void) {
    while (pool.next < pool.count) {
        int t = pool.next++;
        PoolFn fn = pool.fn;
        char *job = pool.jobs + (size_t)t * pool.size;
        pthread_mutex_unlock(&pool.mu);
        fn(job);
        pthread_mutex_lock(&pool.mu);
        if (--pool.remaining == 0) pthread_cond_signal(&pool.done);
    }
}

static void *pool_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
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
    pool.count = pool.next = pool.remaining = 0;
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
    pool.remaining = count;
    pthread_cond_broadcast(&pool.wake);
    pool_drain();
    while (pool.remaining > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pool.count = pool.next = 0;
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&pool.dispatch);
}

/* Registers the fork handler; call once at module init. */
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_after_fork_child); }

#endif
