/* slic's connection to the aggregator (cli_net.c). */
#ifndef SLIC_AGG_CLI_NET_H
#define SLIC_AGG_CLI_NET_H

#include <stddef.h>
#include <stdint.h>

/* Where and how to reach the aggregator. Strings are borrowed. */
struct cli_target {
    const char *addr;   /* nng URL: tcp://, tls+tcp:// or ipc:// */
    int32_t timeout_ms; /* for the whole round trip, dial included */
    /* TLS: PEM files; tls_ca NULL means no TLS configuration. The aggregator's certificate
     * must name tls_server_name, else the address's host. */
    const char *tls_ca;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_server_name;
};

/* Sends req and receives the response into *resp (free with nng_free). Prints why on failure
 * and returns the exit code (cli_format.h: EXIT_OK, EXIT_FAIL, or EXIT_USAGE for an address or
 * TLS file that cannot be used). */
int cli_round_trip(const struct cli_target *t, const uint8_t *req, size_t req_len, void **resp,
                   size_t *resp_len);

#endif
