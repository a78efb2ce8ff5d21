#include "echo_stack.h"

#include <lwip/ip_addr.h>
#include <lwip/netif.h>
#include <lwip/tcpip.h>
#include <netif/tapif.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

static struct netif iface;
static sem_t stack_ready;

static void on_stack_ready(void *arg)
{
    (void)arg;
    sem_post(&stack_ready);
}

/* Loopback: what the stack sends comes back to it. */
static err_t loop_output(struct netif *n, struct pbuf *p, const ip4_addr_t *to)
{
    (void)to;
    return netif_loop_output(n, p);
}

static err_t loop_init(struct netif *n)
{
    n->name[0] = 'l';
    n->name[1] = 'p';
    n->output = loop_output;
    n->mtu = 1500;
    return ERR_OK;
}

void echo_start_stack(int tap)
{
    sem_init(&stack_ready, 0, 0);
    tcpip_init(on_stack_ready, NULL);
    sem_wait(&stack_ready);
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 10, 77, 0, 2);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 77, 0, 1);
    LOCK_TCPIP_CORE();
    netif_add(&iface, &ip, &mask, &gw, NULL, tap ? tapif_init : loop_init, tcpip_input);
    netif_set_default(&iface);
    netif_set_link_up(&iface);
    netif_set_up(&iface);
    UNLOCK_TCPIP_CORE();
}

struct sockaddr_in echo_server_address(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = PP_HTONS(ECHO_PORT)};
    a.sin_addr.s_addr = PP_HTONL(0x0a4d0002); /* 10.77.0.2 */
    return a;
}

int echo_send_all(int s, const char *p, int n)
{
    while (n > 0) {
        int w = lwip_send(s, p, (size_t)n, 0);
        if (w <= 0)
            return -1;
        p += w;
        n -= w;
    }
    return 0;
}

static void *serve_connection(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[4096];
    int n;
    while ((n = lwip_recv(c, buf, sizeof buf, 0)) > 0)
        if (echo_send_all(c, buf, n) != 0)
            break;
    lwip_close(c);
    return NULL;
}

static int listener;

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = lwip_accept(listener, NULL, NULL);
        if (c < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}

int echo_start_server(void)
{
    struct sockaddr_in a = echo_server_address();
    listener = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || lwip_bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || lwip_listen(listener, 16) != 0)
        return -1;
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    pthread_detach(t);
    return 0;
}

