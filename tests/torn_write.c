/* A torn write on purpose, for the crash tests (tests/test_reliability.py) and the DuckDB report in
 * docs/reliability.md. Loaded with LD_PRELOAD into a process writing a DuckDB file, it does what Linux does
 * when SIGKILL arrives during a large buffered write (the kernel stops between two pages): the TORN_NTH-th
 * pwrite of 256 KiB (a DuckDB block), at offset TORN_OFFSET when that is set, writes its first page only,
 * then the process kills itself with SIGKILL.
 *
 *     gcc -shared -fPIC -o torn_write.so torn_write.c -ldl
 *     TORN_NTH=1 TORN_OFFSET=12288 LD_PRELOAD=./torn_write.so python writer.py
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define BLOCK 262144
#define PAGE 4096

static long writes;

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) {
        real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    }
    const char *nth = getenv("TORN_NTH");
    const char *at = getenv("TORN_OFFSET");
    if (nth && count == BLOCK && (!at || atoll(at) == (long long)offset) && ++writes == atol(nth)) {
        real(fd, buf, PAGE, offset);
        kill(getpid(), SIGKILL);
    }
    return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    return pwrite64(fd, buf, count, offset);
}
