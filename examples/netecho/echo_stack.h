/* An echo service over lwIP, shared by netecho and the benchmark: the stack
 * started with a loopback (or TAP) interface at 10.77.0.2, and a server
 * that echoes every connection on port 7, one thread each. */
#ifndef NETECHO_ECHO_STACK_H
#define NETECHO_ECHO_STACK_H

#include <lwip/sockets.h>

#define ECHO_PORT 7

/* Starts lwIP's tcpip_thread and the interface: lwIP's loopback, or the
 * TAP device named by PRECONFIGURED_TAPIF (TAP nonzero). */
void echo_start_stack(int tap);
/* Listens on 10.77.0.2:7 and echoes in the background.  0, or -1. */
int echo_start_server(void);
struct sockaddr_in echo_server_address(void);
/* lwip_send until all N bytes are out: 0, or -1. */
int echo_send_all(int s, const char *p, int n);

#endif
