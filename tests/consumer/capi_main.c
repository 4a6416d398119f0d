/* A C program outside the tree, on the installed C API. */
#include <microthreading/core/microthreading.h>
#include <stdio.h>

static mt_status body(void* arg, void** result) {
    (void)arg;
    mt_status s = mt_sleep(1000000);
    *result = (void*)42;
    return s;
}

int main(void) {
    mt_engine* e = mt_engine_new(NULL);
    mt_thread* t = mt_spawn(NULL, body, NULL);
    mt_status s = mt_engine_loop(e);
    void* r = NULL;
    if (s == MT_OK) s = mt_thread_result(t, &r);
    mt_thread_release(t);
    mt_engine_free(e);
    printf("consumer (C): %s %ld\n", mt_status_name(s), (long)r);
    return s == MT_OK && r == (void*)42 ? 0 : 1;
}
