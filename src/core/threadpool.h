/* A persistent pool of worker threads. The caller's thread works too, so a
 * pool of N threads runs N tasks at once. Idle workers sleep on a condition
 * variable: they never spin and never steal a core from the OS. */
#ifndef LOAM_CORE_THREADPOOL_H
#define LOAM_CORE_THREADPOOL_H

typedef struct loam_pool loam_pool;

/* fn(arg, task, thread) is called once for each task in [0, n_tasks). */
typedef void (*loam_task_fn)(void *arg, int task, int thread);

loam_pool *loam_pool_new(int n_threads);
void loam_pool_free(loam_pool *pool);
int loam_pool_size(const loam_pool *pool);
/* Runs all tasks and returns when every one has finished. */
void loam_pool_run(loam_pool *pool, loam_task_fn fn, void *arg, int n_tasks);

#endif
