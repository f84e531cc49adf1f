/*
 * embed_host: a plug-in host in miniature. It owns an embedded Python interpreter
 * (isolated config: no PYTHON* variables, no user site, no __main__ script), runs a generate
 * through the sdrt binding on a worker thread, and meanwhile keeps its "UI" thread ticking
 * every millisecond; each tick takes the GIL and runs a little Python of its own, as a host's
 * scripting would. Then it finalizes the interpreter, and does it all again with a new
 * interpreter in the same process (libsdrt stays loaded, the binding's state is the new
 * interpreter's).
 *
 *   embed_host PACKAGE_DIR MODEL_DIR OUTPUT_PPM
 *
 * Prints nothing to stdout (the test checks that the binding does not either); reports on
 * stderr, one line per interpreter: "cycle=I ticks=N during=M steps=S generate=SECONDS
 * finalize=STATUS". Exit 0 when in both the script ran, ticks happened during the generate
 * and Py_FinalizeEx returned 0.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *SCRIPT =
    "import sys, time\n"
    "sys.path.insert(0, package_dir)\n"
    "import sdrt\n"
    "steps = []\n"
    "with sdrt.Pipeline(model_dir, provider='cpu') as pipe:\n"
    "    gen_start = time.monotonic()\n"
    "    images = pipe.generate('a lighthouse', width=256, height=256, steps=20, seed=42,\n"
    "                           scheduler='euler', on_step=lambda i: steps.append(i.step))\n"
    "    gen_end = time.monotonic()\n"
    "with open(out_file, 'wb') as f:\n"
    "    f.write(images[0].to_ppm())\n"
    "n_steps = len(steps)\n"
    /* A pipeline left open: freed by the binding's finalizer while Py_FinalizeEx runs. */
    "left_open = sdrt.Pipeline(model_dir, provider='cpu')\n";

struct job {
    const char *package_dir, *model_dir, *out_file;
    double gen_start, gen_end;
    long steps;
    int ok;
    atomic_int done;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of Python's time.monotonic() */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_str(PyObject *dict, const char *key, const char *value) {
    PyObject *v = PyUnicode_FromString(value);
    int rc = v == NULL ? -1 : PyDict_SetItemString(dict, key, v);
    Py_XDECREF(v);
    return rc;
}

static void *worker(void *arg) {
    struct job *job = (struct job *)arg;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *globals = PyDict_New();
    if (globals != NULL && set_str(globals, "package_dir", job->package_dir) == 0 &&
        set_str(globals, "model_dir", job->model_dir) == 0 &&
        set_str(globals, "out_file", job->out_file) == 0) {
        PyObject *r = PyRun_String(SCRIPT, Py_file_input, globals, globals);
        if (r == NULL) {
            PyErr_Print(); /* to sys.stderr */
        } else {
            PyObject *a = PyDict_GetItemString(globals, "gen_start");
            PyObject *b = PyDict_GetItemString(globals, "gen_end");
            PyObject *s = PyDict_GetItemString(globals, "n_steps");
            if (a && b && s) {
                job->gen_start = PyFloat_AsDouble(a);
                job->gen_end = PyFloat_AsDouble(b);
                job->steps = PyLong_AsLong(s);
                job->ok = 1;
            }
            Py_DECREF(r);
        }
    }
    Py_XDECREF(globals);
    PyGILState_Release(g);
    atomic_store(&job->done, 1);
    return NULL;
}

/* One interpreter's life: initialize, generate on a worker thread while this thread ticks,
 * finalize. Returns 1 when every check of the cycle passed. */
static int cycle(int number, const char *package_dir, const char *model_dir,
                 const char *out_file) {
    struct job job = {0};
    PyConfig config;
    PyStatus status;
    PyThreadState *main_state;
    pthread_t thread;
    double *ticks = NULL;
    size_t n = 0, cap = 0, during = 0, i;
    int finalized;

    job.package_dir = package_dir;
    job.model_dir = model_dir;
    job.out_file = out_file;
    PyConfig_InitIsolatedConfig(&config);
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        Py_ExitStatusException(status);
    }
    main_state = PyEval_SaveThread(); /* the UI thread holds the GIL only while ticking */

    if (pthread_create(&thread, NULL, worker, &job) != 0) {
        fprintf(stderr, "embed_host: pthread_create failed\n");
        return 0;
    }
    while (!atomic_load(&job.done)) {
        struct timespec ms = {0, 1000000};
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *v = PyLong_FromSize_t(n); /* a little Python work on the UI thread */
        Py_XDECREF(v);
        PyGILState_Release(g);
        if (n == cap) {
            double *grown;
            cap = cap ? cap * 2 : 1024;
            grown = (double *)realloc(ticks, cap * sizeof *ticks);
            if (grown == NULL) {
                free(ticks);
                return 0;
            }
            ticks = grown;
        }
        ticks[n++] = now();
        nanosleep(&ms, NULL);
    }
    pthread_join(thread, NULL);

    PyEval_RestoreThread(main_state);
    finalized = Py_FinalizeEx();

    for (i = 0; i < n; i++) {
        if (ticks[i] > job.gen_start && ticks[i] < job.gen_end) {
            during++;
        }
    }
    free(ticks);
    fprintf(stderr, "cycle=%d ticks=%zu during=%zu steps=%ld generate=%.3f finalize=%d\n",
            number, n, during, job.steps, job.gen_end - job.gen_start, finalized);
    return job.ok && during > 0 && finalized == 0;
}

int main(int argc, char **argv) {
    int ok = 1, i;
    if (argc != 4) {
        fprintf(stderr, "usage: embed_host PACKAGE_DIR MODEL_DIR OUTPUT_PPM\n");
        return 2;
    }
    /* Twice: a host may finalize its interpreter and start a new one (plug-ins reloaded). */
    for (i = 1; i <= 2; i++) {
        ok = cycle(i, argv[1], argv[2], argv[3]) && ok;
    }
    return ok ? 0 : 1;
}
