/* netecho: an echo server and its clients over lwIP (Debian's liblwip), a
 * user-space TCP/IP stack, for running that stack protected.
 *
 *   netecho [-c CLIENTS] [-n REQUESTS]     loopback: CLIENTS threads each make
 *                                          REQUESTS round trips through lwIP's
 *                                          loopback interface; prints a summary
 *                                          that does not depend on timing
 *   netecho --tap IFNAME -t SECONDS        serves on a TAP interface (10.77.0.2,
 *                                          port 7) that the host reaches as
 *                                          10.77.0.1: nc/curl through the stack
 *   netecho --stray-write pcb|pbuf         the bug: a write into a TCP PCB or a
 *                                          pbuf of the stack
 *   --rate                                 also prints round trips per second
 *   --signals                              SIGUSR1 rains on the clients meanwhile
 * Exit status: 0 every echo matched, 1 a mismatch, 2 setup or usage. */
#define _GNU_SOURCE
#include "echo_stack.h"

#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define MAX_REQUEST 3072

static atomic_long usr1;

struct client {
    int id, requests;
    long ok, bad;
    unsigned long check;
    pthread_t thread;
};

/* Requests of varied sizes (1 byte to 3 KiB), each echoed and compared. */
static void *client(void *arg)
{
    struct client *c = arg;
    struct sockaddr_in a = echo_server_address();
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || lwip_connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        c->bad = c->requests;
        return NULL;
    }
    char *o = malloc(MAX_REQUEST), *i = malloc(MAX_REQUEST);
    for (int r = 0; r < c->requests; r++) {
        int n = 1 + (int)(((unsigned)r * 2654435761u + (unsigned)c->id * 40503u) % MAX_REQUEST);
        for (int k = 0; k < n; k++)
            o[k] = (char)('a' + (r + k + c->id) % 26);
        if (echo_send_all(s, o, n) != 0)
            break;
        int got = 0;
        while (got < n) {
            int m = lwip_recv(s, i + got, (size_t)(n - got), 0);
            if (m <= 0)
                break;
            got += m;
        }
        if (got == n && memcmp(o, i, (size_t)n) == 0) {
            c->ok++;
            for (int k = 0; k < n; k++)
                c->check = c->check * 31 + (unsigned char)i[k];
        } else {
            c->bad++;
        }
    }
    free(o);
    free(i);
    lwip_close(s);
    return NULL;
}

static void count_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&usr1, 1);
}

static atomic_bool raining;
static long sent_usr1;
static pthread_t targets[MAX_CLIENTS];
static int n_targets;

/* At the clients, which spend their time inside lwIP (lwip_send, lwip_recv). */
static void *rain(void *arg)
{
    (void)arg;
    for (int i = 0; atomic_load(&raining); i++) {
        if (pthread_kill(targets[i % n_targets], SIGUSR1) == 0)
            sent_usr1++;
        usleep(100);
    }
    return NULL;
}

/* The bug the key stops: a stray write into the stack's own state. */
static int stray_write(const char *what)
{
    LOCK_TCPIP_CORE();
    struct tcp_pcb *pcb = tcp_new();
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, 64, PBUF_RAM);
    UNLOCK_TCPIP_CORE();
    fflush(stdout);
    if (strcmp(what, "pcb") == 0)
        pcb->local_port = 9; /* a PCB: lwIP's connection state */
    else
        p->len = 0xffff; /* a pbuf: lwIP's packet buffer */
    printf("stray write into a %s went through\n", what);
    return 3;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: netecho [-c CLIENTS] [-n REQUESTS] [--rate] [--signals]\n"
               "       netecho --tap IFNAME [-t SECONDS]\n"
               "       netecho --stray-write pcb|pbuf\n");
}

int main(int argc, char **argv)
{
    int clients = 4, requests = 1000, seconds = 30, rate = 0, signals = 0;
    const char *tap = NULL, *stray = NULL;
    static const struct option opts[] = {
        {"tap", required_argument, NULL, 'T'}, {"stray-write", required_argument, NULL, 'S'},
        {"rate", no_argument, NULL, 'r'},      {"signals", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},      {0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "c:n:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': clients = atoi(optarg); break;
        case 'n': requests = atoi(optarg); break;
        case 't': seconds = atoi(optarg); break;
        case 'T': tap = optarg; break;
        case 'S': stray = optarg; break;
        case 'r': rate = 1; break;
        case 's': signals = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (clients < 1 || clients > MAX_CLIENTS || requests < 1 || (stray && strcmp(stray, "pcb") && strcmp(stray, "pbuf"))) {
        usage(stderr);
        return 2;
    }
    if (tap)
        setenv("PRECONFIGURED_TAPIF", tap, 1); /* lwIP's TAP driver: attach, do not run ifconfig */
    echo_start_stack(tap != NULL);
    if (stray)
        return stray_write(stray);
    if (echo_start_server() != 0) {
        fprintf(stderr, "netecho: cannot listen on port %d\n", ECHO_PORT);
        return 2;
    }
    if (tap) {
        printf("netecho: serving on %s at 10.77.0.2 port %d for %d s\n", tap, ECHO_PORT, seconds);
        fflush(stdout);
        sleep((unsigned)seconds);
        return 0;
    }
    struct sigaction sa = {.sa_handler = count_usr1, .sa_flags = SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    static struct client c[MAX_CLIENTS];
    double start = now();
    for (int i = 0; i < clients; i++) {
        c[i] = (struct client){.id = i, .requests = requests};
        pthread_create(&c[i].thread, NULL, client, &c[i]);
        targets[n_targets++] = c[i].thread;
    }
    pthread_t rainer;
    if (signals) {
        atomic_store(&raining, true);
        pthread_create(&rainer, NULL, rain, NULL);
    }
    long ok = 0, bad = 0;
    unsigned long check = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(c[i].thread, NULL);
        if (i == 0 && signals) { /* the rest may end: pthread_kill of an ended thread is not allowed */
            atomic_store(&raining, false);
            pthread_join(rainer, NULL);
        }
        ok += c[i].ok;
        bad += c[i].bad;
        check = check * 1000003 + c[i].check;
    }
    double elapsed = now() - start;
    if (signals)
        printf("signals: %s sent, %s handled\n", sent_usr1 ? "some" : "NONE", atomic_load(&usr1) ? "some" : "NONE");
    printf("netecho: %d clients x %d requests: %ld round trips matched, %ld did not; checksum %016lx\n", clients,
           requests, ok, bad, check);
    if (rate)
        fprintf(stderr, "netecho: %.0f round trips per second\n", (double)ok / elapsed);
    return bad ? 1 : 0;
}
