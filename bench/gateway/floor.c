/*
 * The per-connection floor: how many 100-register reads one libmodbus connection completes
 * per second against a simulated device (one request in flight, as a gateway bus does).
 *
 *   floor HOST PORT UNIT SECONDS [WARMUP_SECONDS]
 *
 * Prints one JSON object: polls, seconds, polls_per_s, cpu_s (getrusage, user + system,
 * measured over the same window as polls), errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <modbus.h>

#define REGISTERS 100

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST PORT UNIT SECONDS [WARMUP_SECONDS]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    int unit = atoi(argv[3]);
    double seconds = atof(argv[4]);
    double warmup = argc > 5 ? atof(argv[5]) : 1.0;

    modbus_t *ctx = modbus_new_tcp(host, port);
    if (ctx == NULL) {
        fprintf(stderr, "modbus_new_tcp: %s\n", modbus_strerror(errno));
        return 1;
    }
    modbus_set_slave(ctx, unit);
    modbus_set_response_timeout(ctx, 1, 0);
    if (modbus_connect(ctx) == -1) {
        fprintf(stderr, "modbus_connect %s:%d: %s\n", host, port, modbus_strerror(errno));
        modbus_free(ctx);
        return 1;
    }

    uint16_t buf[REGISTERS];
    long polls = 0, errors = 0;
    double start = now_s(), measured_from = start + warmup, end = measured_from + seconds;
    double cpu_start = 0.0, t_start = 0.0;
    int measuring = 0;
    for (;;) {
        double t = now_s();
        if (!measuring && t >= measured_from) {
            measuring = 1;
            polls = errors = 0;
            cpu_start = cpu_s();
            t_start = t;
        }
        if (t >= end) {
            break;
        }
        if (modbus_read_registers(ctx, 0, REGISTERS, buf) == REGISTERS) {
            polls++;
        } else {
            errors++;
            if (errors > 1000) {
                fprintf(stderr, "too many errors: %s\n", modbus_strerror(errno));
                break;
            }
        }
    }
    double elapsed = now_s() - t_start;
    double cpu = cpu_s() - cpu_start;
    printf("{\"polls\": %ld, \"seconds\": %.3f, \"polls_per_s\": %.1f, \"cpu_s\": %.3f, "
           "\"errors\": %ld}\n",
           polls, elapsed, elapsed > 0 ? polls / elapsed : 0.0, cpu, errors);
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
