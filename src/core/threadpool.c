#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Workers that just finished a job spin for a short while (a decode step
 * issues a job every few microseconds), then sleep on a condition variable,
 * so an idle pool costs no CPU. */
#define SPIN_ROUNDS 20000

struct loam_pool {
    int n_threads; /* including the caller */
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_ulong generation; /* bumped for each job */
    atomic_int shutting_down;
    atomic_int busy_workers;
    /* the current job, written before generation is bumped */
    loam_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;
};

typedef struct {
    loam_pool *pool;
    int index;
} worker_start;

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static void run_tasks(loam_pool *pool, int thread) {
    for (;;) {
        int task = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed);
        if (task >= pool->n_tasks) return;
        pool->fn(pool->arg, task, thread);
    }
}

static void *worker_main(void *p) {
    worker_start start = *(worker_start *)p;
    free(p);
    loam_pool *pool = start.pool;
    unsigned long seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen &&
               !atomic_load(&pool->shutting_down) && spins < SPIN_ROUNDS) {
            cpu_relax();
            spins++;
        }
        if (atomic_load_explicit(&pool->generation, memory_order_acquire) == seen && !atomic_load(&pool->shutting_down)) {
            pthread_mutex_lock(&pool->lock);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->shutting_down))
                pthread_cond_wait(&pool->wake, &pool->lock);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->shutting_down)) break;
        seen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        run_tasks(pool, start.index);
        atomic_fetch_sub_explicit(&pool->busy_workers, 1, memory_order_release);
    }
    return NULL;
}

loam_pool *loam_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    loam_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_start *start = malloc(sizeof *start);
        if (start) {
            start->pool = pool;
            start->index = i;
        }
        if (!start || pthread_create(&pool->workers[i], NULL, worker_main, start) != 0) {
            free(start);
            pool->n_threads = i; /* run with what we have */
            break;
        }
    }
    return pool;
}

void loam_pool_free(loam_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->shutting_down, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}

int loam_pool_size(const loam_pool *pool) { return pool ? pool->n_threads : 1; }

void loam_pool_run(loam_pool *pool, loam_task_fn fn, void *arg, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!pool || pool->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->n_tasks = n_tasks;
    atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->busy_workers, pool->n_threads - 1, memory_order_relaxed);
    /* publish the job; sleeping workers need the lock + broadcast */
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    run_tasks(pool, 0);

    /* the others are finishing tasks already started: wait briefly */
    for (long spins = 0; atomic_load_explicit(&pool->busy_workers, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ROUNDS) cpu_relax();
        else sched_yield();
    }
}
