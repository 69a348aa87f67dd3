
/*
 * Copyright (C) nginx-dub developers
 *
 * Thread-pool tasks with an owner that may go away first: the owner keeps
 * its tasks in a queue and abandons them when it is freed; an abandoned
 * task still finishes in its thread (it owns its data), then frees itself
 * on the event loop without calling back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp_dub_task.h"

#if (NGX_LINUX)
#include <sched.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* the pool threads' nice levels above the worker's */
#define NGX_RTMP_DUB_TASK_NICE   10

static __thread ngx_uint_t  ngx_rtmp_dub_task_batch;
#endif

#if (NGX_LINUX && defined __GLIBC__)
#include <malloc.h>

/*
 * glibc's allocator for the tasks' buffers (MiB of PCM, an AAC encoder
 * at each segment): below this size from the threads' arenas, used again
 * from task to task, instead of mapped for each and faulted in page by
 * page (about 35 us a page in a virtual machine: a fifth of the tasks'
 * CPU); the arenas' tops go back to the system past the trim threshold
 */
#define NGX_RTMP_DUB_MMAP_THRESHOLD  (16 * 1024 * 1024)
#define NGX_RTMP_DUB_TRIM_THRESHOLD  (32 * 1024 * 1024)

/* seconds between two trims of the threads' arenas */
#define NGX_RTMP_DUB_TRIM_EVERY      60

static ngx_atomic_t         ngx_rtmp_dub_task_trimmed;
#endif


static void ngx_rtmp_dub_task_work(void *data, ngx_log_t *log);
static void ngx_rtmp_dub_task_event(ngx_event_t *ev);


void
ngx_rtmp_dub_task_init(ngx_cycle_t *cycle)
{
#if (NGX_LINUX && defined __GLIBC__)

    if (mallopt(M_MMAP_THRESHOLD, NGX_RTMP_DUB_MMAP_THRESHOLD) != 1
        || mallopt(M_TRIM_THRESHOLD, NGX_RTMP_DUB_TRIM_THRESHOLD) != 1)
    {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "dub: the allocator kept its own mmap and trim "
                      "thresholds (mallopt refused), thread tasks may "
                      "fault their buffers in each time");
    }

    ngx_rtmp_dub_task_trimmed = (ngx_atomic_uint_t) ngx_time();

#endif
}


ngx_int_t
ngx_rtmp_dub_task_post(ngx_thread_pool_t *tp, ngx_rtmp_dub_task_t *t,
    void (*work)(void *data, ngx_log_t *log), ngx_queue_t *owner_tasks)
{
    t->task.ctx = t;
    t->task.handler = ngx_rtmp_dub_task_work;
    t->work = work;
    t->task.event.data = t;
    t->task.event.handler = ngx_rtmp_dub_task_event;
    t->task.event.log = &t->log;

    if (ngx_thread_task_post(tp, &t->task) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(owner_tasks, &t->queue);

    return NGX_OK;
}


void
ngx_rtmp_dub_task_abandon(ngx_queue_t *owner_tasks)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_task_t  *t;

    while (!ngx_queue_empty(owner_tasks)) {
        q = ngx_queue_head(owner_tasks);
        t = ngx_queue_data(q, ngx_rtmp_dub_task_t, queue);

        ngx_queue_remove(q);
        ngx_queue_init(q);

        t->owner = NULL;
        t->abandoned = 1;
    }
}


void
ngx_rtmp_dub_task_abandon_data(ngx_queue_t *owner_tasks, void *data)
{
    ngx_queue_t          *q, *next;
    ngx_rtmp_dub_task_t  *t;

    for (q = ngx_queue_head(owner_tasks);
         q != ngx_queue_sentinel(owner_tasks);
         q = next)
    {
        next = ngx_queue_next(q);
        t = ngx_queue_data(q, ngx_rtmp_dub_task_t, queue);

        if (t->data == data) {
            ngx_queue_remove(q);
            ngx_queue_init(q);
            t->owner = NULL;
            t->abandoned = 1;
        }
    }
}


/* in a thread */

static void
ngx_rtmp_dub_task_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_task_t  *t = data;

#if (NGX_LINUX)
    int                   nice;
    pid_t                 tid;
    struct sched_param    sp;
#endif
#if (NGX_LINUX && defined __GLIBC__)
    ngx_atomic_uint_t     trimmed, now;
#endif

#if (NGX_LINUX)

    /*
     * The audio work is CPU-bound and can wait a little: batch work, 10
     * nice levels below the worker (about a tenth of its weight), the
     * thread gives way to the event loop as soon as it wakes, so the
     * work of many streams does not make nginx late to answer.  Linux
     * sets both per thread.
     */

    if (!ngx_rtmp_dub_task_batch) {
        ngx_rtmp_dub_task_batch = 1;

        ngx_memzero(&sp, sizeof(struct sched_param));

        if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp) != 0) {
            ngx_log_debug0(NGX_LOG_DEBUG_CORE, log, 0,
                           "dub: SCHED_BATCH refused");
        }

        tid = (pid_t) syscall(SYS_gettid);

        ngx_set_errno(0);
        nice = getpriority(PRIO_PROCESS, (id_t) tid);

        if (ngx_errno == 0
            && setpriority(PRIO_PROCESS, (id_t) tid,
                           ngx_min(nice + NGX_RTMP_DUB_TASK_NICE, 19))
               != 0)
        {
            ngx_log_debug0(NGX_LOG_DEBUG_CORE, log, ngx_errno,
                           "dub: setpriority() of a pool thread failed");
        }
    }
#endif

    /*
     * Abandoned while it waited in the queue (its segment went out, its
     * stream ended): its result would be dropped, so the work is not
     * done, and the pool gets on with what can still make its slot.
     */

    if (t->abandoned) {
        t->skipped = 1;
        return;
    }

    t->work(t, log);

#if (NGX_LINUX && defined __GLIBC__)

    /*
     * The audio work's buffers are freed by now and kept in the thread's
     * arena for the next task; what the arenas hold, scattered, goes back
     * to the system once a minute (each time would cost the page faults
     * of touching it again at every task), by the one thread that marks
     * the time first.
     */

    trimmed = ngx_rtmp_dub_task_trimmed;
    now = (ngx_atomic_uint_t) ngx_time();

    if (now - trimmed >= NGX_RTMP_DUB_TRIM_EVERY
        && ngx_atomic_cmp_set(&ngx_rtmp_dub_task_trimmed, trimmed, now))
    {
        (void) malloc_trim(0);
    }

#endif
}


static void
ngx_rtmp_dub_task_event(ngx_event_t *ev)
{
    ngx_rtmp_dub_task_t  *t;

    t = ev->data;

    if (t->owner) {
        ngx_queue_remove(&t->queue);
        t->done(t);

    } else if (t->skipped) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, &t->log, 0,
                       "dub: a thread task skipped: its fragment or stream "
                       "had gone before it started");

    } else {
        ngx_log_error(NGX_LOG_INFO, &t->log, 0,
                      "dub: a thread task finished after its fragment or "
                      "stream had gone, result dropped");
    }

    t->free(t);
}
