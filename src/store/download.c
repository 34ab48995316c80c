#include "store/download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/error.h"
#include "core/sys.h"
#include "store/curl_api.h"
#include "store/hash.h"
#include "store/hf_cache.h"

typedef struct {
    const store_file *f;
    char blob[STORE_PATH_MAX], part[STORE_PATH_MAX];
    FILE *out;
    uint64_t have;      /* bytes in the part file */
    int attempts;
    int write_errno;    /* a failed write: disk full, file too large */
    int restart;        /* the server ignored the range: start over */
    long status;
    CURL *h;
    struct curl_slist *headers;
    int state;          /* 0 waiting, 1 running, 2 done */
} dl_file;

typedef struct {
    const store_download_job *job;
    dl_file *files;
    int n;
    uint64_t total, base_done;
    double t0, last_report;
    store_curl cu; /* libcurl, loaded for this download */
} dl_set;

uint64_t store_missing_bytes(const char *repo_dir, const store_file *f) {
    char path[STORE_PATH_MAX];
    snprintf(path, sizeof path, "%s/blobs/%s", repo_dir, f->digest);
    if (store_file_size(path) == (int64_t)f->size) return 0;
    snprintf(path, sizeof path, "%s/blobs/%s.incomplete", repo_dir, f->digest);
    int64_t part = store_file_size(path);
    return part > 0 && (uint64_t)part <= f->size ? f->size - (uint64_t)part : f->size;
}

static uint64_t done_bytes(const dl_set *s) {
    uint64_t d = 0;
    for (int i = 0; i < s->n; i++) d += s->files[i].have;
    return d;
}

static void report(dl_set *s, const char *file, int force) {
    const loam_store_params *p = s->job->params;
    double now = loam_seconds_now();
    if (!p->progress || (!force && now - s->last_report < 0.1)) return;
    s->last_report = now;
    uint64_t done = done_bytes(s);
    double rate = now > s->t0 ? (double)(done - s->base_done) / (now - s->t0) : 0;
    p->progress(p->user, done, s->total, rate, file);
}

static size_t write_part(char *ptr, size_t size, size_t nmemb, void *user) {
    dl_file *d = user;
    size_t n = size * nmemb;
    if (d->status != 200 && d->status != 206) return n; /* an error page: not the file */
    if (d->restart) {
        /* asked for a range, got the whole file: the part starts over */
        if (fflush(d->out) != 0 || ftruncate(fileno(d->out), 0) != 0 || fseek(d->out, 0, SEEK_SET) != 0) {
            d->write_errno = errno;
            return 0;
        }
        d->have = 0, d->restart = 0;
    }
    if (d->have + n > d->f->size) {
        d->write_errno = EOVERFLOW; /* more than the hub said: never trust it */
        return 0;
    }
    if (fwrite(ptr, 1, n, d->out) != n) {
        d->write_errno = errno ? errno : EIO;
        return 0;
    }
    d->have += n;
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *user) {
    dl_file *d = user;
    size_t n = size * nmemb;
    long code;
    /* each response of a redirect chain starts with its status line */
    if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
        const char *sp = memchr(buf, ' ', n);
        code = sp ? strtol(sp + 1, NULL, 10) : 0;
        d->status = code;
        d->restart = code == 200 && d->have > 0;
    }
    return n;
}

static loam_status open_part(dl_set *s, dl_file *d, loam_error *err) {
    loam_status st = store_make_parents(d->part, err);
    if (st != LOAM_OK) return st;
    int fd = open(d->part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return loam_fail(err, LOAM_E_IO, "cannot write %s: %s", d->part, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return loam_fail(err, LOAM_E_IO, "%s: another download of %s from %s is under way", d->part, d->f->path, s->job->repo);
    }
    int64_t size = store_file_size(d->part);
    if (size < 0 || (uint64_t)size > d->f->size) {
        if (ftruncate(fd, 0) != 0) size = -1;
        else size = 0;
    }
    d->out = fdopen(fd, "ab");
    if (!d->out || size < 0) {
        if (d->out) fclose(d->out);
        else close(fd);
        d->out = NULL;
        return loam_fail(err, LOAM_E_IO, "cannot write %s", d->part);
    }
    d->have = (uint64_t)size;
    return LOAM_OK;
}

static loam_status start(dl_set *s, dl_file *d, CURLM *multi, loam_error *err) {
    const store_download_job *j = s->job;
    char url[2048], auth[1200];
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", j->endpoint, j->repo, j->commit, d->f->path);
    if (!d->out) {
        loam_status st = open_part(s, d, err);
        if (st != LOAM_OK) return st;
    }
    d->h = s->cu.easy_init();
    if (!d->h) return loam_fail(err, LOAM_E_NOMEM, "cannot start an HTTP request");
    if (j->token && *j->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", j->token);
        d->headers = s->cu.slist_append(NULL, auth);
    }
    CURL *h = d->h;
    s->cu.easy_setopt(h, CURLOPT_URL, url);
    s->cu.easy_setopt(h, CURLOPT_HTTPHEADER, d->headers);
    s->cu.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* LFS files redirect to a CDN; curl drops the token there */
    s->cu.easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    s->cu.easy_setopt(h, CURLOPT_USERAGENT, "loam/" LOAM_VERSION);
    s->cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    s->cu.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled connection is cut after a minute */
    s->cu.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    s->cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    s->cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, write_part);
    s->cu.easy_setopt(h, CURLOPT_WRITEDATA, d);
    s->cu.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    s->cu.easy_setopt(h, CURLOPT_HEADERDATA, d);
    s->cu.easy_setopt(h, CURLOPT_PRIVATE, d);
    if (d->have > 0) s->cu.easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->have);
    d->status = 0, d->restart = 0, d->write_errno = 0;
    d->attempts++;
    d->state = 1;
    s->cu.multi_add_handle(multi, h);
    return LOAM_OK;
}

static void stop(dl_set *s, dl_file *d, CURLM *multi) {
    if (d->h) {
        s->cu.multi_remove_handle(multi, d->h);
        s->cu.easy_cleanup(d->h);
        d->h = NULL;
    }
    s->cu.slist_free_all(d->headers);
    d->headers = NULL;
}

/* The whole part is there: check it, then it becomes the blob. */
static loam_status finish(dl_set *s, dl_file *d, loam_error *err) {
    int closed = fclose(d->out);
    d->out = NULL;
    if (closed != 0) return loam_fail(err, LOAM_E_IO, "%s: writing %s failed: %s", s->job->repo, d->f->path, strerror(errno));
    char hex[65];
    loam_status st = store_file_digest(d->part, !d->f->lfs, hex, err);
    if (st != LOAM_OK) return st;
    if (strcmp(hex, d->f->digest) != 0) {
        unlink(d->part); /* a bad download is never resumed */
        return loam_fail(err, LOAM_E_FORMAT, "%s: %s downloaded with %s %s, but the hub lists %s; the file was deleted",
                         s->job->repo, d->f->path, d->f->lfs ? "sha256" : "git blob id", hex, d->f->digest);
    }
    if (rename(d->part, d->blob) != 0) return loam_fail(err, LOAM_E_IO, "cannot rename %s: %s", d->part, strerror(errno));
    return store_link_snapshot(s->job->repo_dir, s->job->commit, d->f->path, d->f->digest, err);
}

static int transient(CURLcode rc, long status) {
    if (rc == CURLE_OK) return status >= 500 || status == 429 || status == 408;
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

/* One transfer ended: done, retried from where it stopped, or an error. */
static loam_status ended(dl_set *s, dl_file *d, CURLcode rc, CURLM *multi, loam_error *err) {
    const store_download_job *j = s->job;
    stop(s, d, multi);
    if (d->write_errno) {
        fflush(d->out);
        return loam_fail(err, LOAM_E_IO, "%s: writing %s into %s failed: %s (%llu of %llu bytes kept; loam pull resumes it)",
                         j->repo, d->f->path, d->part,
                         d->write_errno == ENOSPC || d->write_errno == EFBIG ? "the disk is full" : strerror(d->write_errno),
                         (unsigned long long)d->have, (unsigned long long)d->f->size);
    }
    if (rc == CURLE_OK && (d->status == 200 || d->status == 206) && d->have == d->f->size) {
        d->state = 2;
        return finish(s, d, err);
    }
    if (rc == CURLE_OK && d->status == 416 && d->have == d->f->size) {
        d->state = 2;
        return finish(s, d, err);
    }
    int retries = j->params->retries == 0 ? 5 : j->params->retries < 0 ? 0 : j->params->retries;
    if (fflush(d->out) == 0 && (transient(rc, d->status) || (rc == CURLE_OK && d->status == 206)) && d->attempts <= retries) {
        d->state = 0; /* started again, from d->have */
        return LOAM_OK;
    }
    if (d->status == 401 || d->status == 403)
        return loam_fail(err, LOAM_E_IO, "%s: access to %s denied (HTTP %ld): accept the licence at %s/%s and set HF_TOKEN",
                         j->repo, d->f->path, d->status, j->endpoint, j->repo);
    if (rc != CURLE_OK)
        return loam_fail(err, LOAM_E_IO, "%s: downloading %s failed after %d attempts: %s (%llu of %llu bytes kept; loam pull resumes it)",
                         j->repo, d->f->path, d->attempts, s->cu.easy_strerror(rc), (unsigned long long)d->have,
                         (unsigned long long)d->f->size);
    return loam_fail(err, LOAM_E_IO, "%s: downloading %s: HTTP %ld after %llu of %llu bytes", j->repo, d->f->path, d->status,
                     (unsigned long long)d->have, (unsigned long long)d->f->size);
}

static loam_status run_all(dl_set *s, CURLM *multi, loam_error *err) {
    int parallel = s->job->params->n_parallel > 0 ? s->job->params->n_parallel : 4;
    for (;;) {
        int running = 0, pending = 0;
        for (int i = 0; i < s->n; i++) running += s->files[i].state == 1, pending += s->files[i].state == 0;
        for (int i = 0; i < s->n && running < parallel; i++) {
            if (s->files[i].state != 0) continue;
            loam_status st = start(s, &s->files[i], multi, err);
            if (st != LOAM_OK) return st;
            running++, pending--;
        }
        if (running == 0 && pending == 0) return LOAM_OK;
        int still;
        CURLMcode mc = s->cu.multi_perform(multi, &still);
        if (mc == CURLM_OK) mc = s->cu.multi_poll(multi, NULL, 0, 100, NULL);
        if (mc != CURLM_OK) return loam_fail(err, LOAM_E_IO, "download: %s", s->cu.multi_strerror(mc));
        CURLMsg *msg;
        int left;
        while ((msg = s->cu.multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            dl_file *d = NULL;
            s->cu.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            loam_status st = ended(s, d, msg->data.result, multi, err);
            report(s, d->f->path, 1);
            if (st != LOAM_OK) return st;
        }
        report(s, "", 0);
    }
}

loam_status store_download(const store_download_job *job, const store_file *files, int n_files, loam_error *err) {
    dl_set s = {.job = job, .n = 0, .t0 = loam_seconds_now()};
    s.files = calloc((size_t)(n_files ? n_files : 1), sizeof *s.files);
    loam_status loaded = store_curl_open(&s.cu, err);
    if (loaded) return free(s.files), loaded;
    CURLM *multi = s.cu.multi_init();
    if (!s.files || !multi) {
        free(s.files);
        if (multi) s.cu.multi_cleanup(multi);
        store_curl_close(&s.cu);
        return loam_fail(err, LOAM_E_NOMEM, "out of memory");
    }
    loam_status st = LOAM_OK;
    for (int i = 0; i < n_files && st == LOAM_OK; i++) {
        dl_file *d = &s.files[s.n];
        d->f = &files[i];
        s.total += files[i].size;
        snprintf(d->blob, sizeof d->blob, "%s/blobs/%s", job->repo_dir, files[i].digest);
        snprintf(d->part, sizeof d->part, "%s/blobs/%s.incomplete", job->repo_dir, files[i].digest);
        if (store_file_size(d->blob) == (int64_t)files[i].size) {
            /* already in the cache (another tool, an earlier pull): link it */
            st = store_link_snapshot(job->repo_dir, job->commit, files[i].path, files[i].digest, err);
            s.base_done += files[i].size;
            d->have = files[i].size, d->state = 2;
        } else {
            int64_t part = store_file_size(d->part);
            d->have = part > 0 && (uint64_t)part <= files[i].size ? (uint64_t)part : 0;
            s.base_done += d->have;
        }
        s.n++;
    }
    if (st == LOAM_OK) st = run_all(&s, multi, err);
    report(&s, "", 1);
    for (int i = 0; i < s.n; i++) {
        stop(&s, &s.files[i], multi);
        if (s.files[i].out) fclose(s.files[i].out);
    }
    s.cu.multi_cleanup(multi);
    store_curl_close(&s.cu);
    free(s.files);
    return st;
}
