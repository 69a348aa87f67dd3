
/*
 * Copyright (C) nginx-dub developers
 *
 * Thread-pool tasks whose owner may go away before they finish.
 */


#ifndef _NGX_RTMP_DUB_TASK_H_INCLUDED_
#define _NGX_RTMP_DUB_TASK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_thread_pool.h>


/* thread-pool tasks: work done off the event loop */

typedef struct ngx_rtmp_dub_task_s  ngx_rtmp_dub_task_t;

typedef void (*ngx_rtmp_dub_task_done_pt)(ngx_rtmp_dub_task_t *task);


struct ngx_rtmp_dub_task_s {
    ngx_thread_task_t           task;
    ngx_queue_t                 queue;      /* owner's tasks */
    void                       *owner;      /* NULL once abandoned */
    ngx_atomic_t                abandoned;  /* the same, for the thread */
    void                       *data;       /* the owner's subject */
    void                      (*work)(void *data, ngx_log_t *log);
    ngx_rtmp_dub_task_done_pt   done;       /* on the event loop */
    void                      (*free)(ngx_rtmp_dub_task_t *task);
    ngx_log_t                   log;
    unsigned                    skipped:1;  /* abandoned before it ran */
};


/* the worker's allocator, for the tasks' buffers; at worker start */
void ngx_rtmp_dub_task_init(ngx_cycle_t *cycle);

/*
 * Posts "task" (allocated by the caller with ngx_calloc(), a struct that
 * starts with ngx_rtmp_dub_task_t) to the pool; "work" runs in a thread,
 * "done" back on the event loop unless the owner abandoned it meanwhile;
 * "free" releases it either way.
 */
ngx_int_t ngx_rtmp_dub_task_post(ngx_thread_pool_t *tp,
    ngx_rtmp_dub_task_t *t, void (*work)(void *data, ngx_log_t *log),
    ngx_queue_t *owner_tasks);

/* the owner goes away: its tasks finish alone and free themselves */
void ngx_rtmp_dub_task_abandon(ngx_queue_t *owner_tasks);

/* the same for the owner's tasks about "data" only */
void ngx_rtmp_dub_task_abandon_data(ngx_queue_t *owner_tasks, void *data);


#endif /* _NGX_RTMP_DUB_TASK_H_INCLUDED_ */
