/**
 * The few STUN messages (RFC 8489) an ICE agent needs (RFC 8445 §7), for
 * weir-load: Binding requests with USERNAME, PRIORITY, ICE-CONTROLLING or
 * ICE-CONTROLLED, USE-CANDIDATE, MESSAGE-INTEGRITY and FINGERPRINT; Binding
 * success responses with XOR-MAPPED-ADDRESS; and a parser that reads just
 * enough of an incoming message to answer it or match it to our request.
 *
 * The server under test runs libnice; Weir itself has no STUN code of its
 * own (libnice consumes STUN), so the load tool carries this small module
 * instead of a libnice agent per simulated peer, which would cost more CPU
 * than the server it measures.
 *
 * Pure: no I/O, no clock. MESSAGE-INTEGRITY of incoming messages is not
 * verified (the tool talks to a server on the same host); FINGERPRINT is.
 */
#ifndef WL_STUN_H
#define WL_STUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_STUN_HEADER 20
#define WL_STUN_MAX 512

#define WL_STUN_BINDING_REQUEST 0x0001
#define WL_STUN_BINDING_SUCCESS 0x0101
#define WL_STUN_BINDING_ERROR 0x0111
#define WL_STUN_BINDING_INDICATION 0x0011

/** RFC 7983: a first byte 0..3 is STUN. */
static inline bool wl_stun_is_stun(const uint8_t *buf, size_t len)
{
    return len >= WL_STUN_HEADER && buf[0] < 4 && buf[4] == 0x21 && buf[5] == 0x12 &&
           buf[6] == 0xA4 && buf[7] == 0x42;
}

typedef struct wl_stun_msg {
    uint16_t type;
    uint8_t txid[12];
    bool has_username;
    char username[128]; /* "ours:theirs" as the sender wrote it */
    bool use_candidate;
    int error_code; /* 0, or the ERROR-CODE of an error response (487 = role conflict) */
} wl_stun_msg;

/**
 * Parses one message. Returns 0, or -WEIR_EINVAL for anything malformed:
 * short, bad length, attribute overrunning the message, a FINGERPRINT that
 * does not match. Unknown attributes are skipped.
 */
int wl_stun_parse(const uint8_t *buf, size_t len, wl_stun_msg *out);

typedef struct wl_stun_request {
    const uint8_t *txid;  /* 12 bytes */
    const char *username; /* "remote_ufrag:local_ufrag" */
    const char *password; /* the remote ICE password */
    uint32_t priority;
    bool controlling;
    uint64_t tiebreaker;
    bool use_candidate;
} wl_stun_request;

/** Writes a Binding request into out (cap >= WL_STUN_MAX). Returns its length or -WEIR_ETOOBIG. */
int wl_stun_write_request(const wl_stun_request *req, uint8_t *out, size_t cap);

/**
 * Writes a Binding success response to txid, telling the requester its
 * address, signed with our (local) ICE password. Returns the length or
 * -WEIR_ETOOBIG.
 */
int wl_stun_write_success(const uint8_t *txid, const struct sockaddr_in *mapped,
                          const char *password, uint8_t *out, size_t cap);

#endif
