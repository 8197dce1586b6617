/**
 * Data Channel Establishment Protocol (RFC 8832) and the SCTP payload
 * protocol identifiers of WebRTC data channels (RFC 8831 §8).
 *
 * DCEP runs on an SCTP stream with PPID 50: the opener sends
 * DATA_CHANNEL_OPEN, the other side answers DATA_CHANNEL_ACK on the same
 * stream. SCTP keeps message boundaries, so one buffer is one whole message
 * and parsing is strict: a message whose length disagrees with its fields
 * (short, or with trailing bytes) is -WEIR_EINVAL.
 *
 * Parsers fill a small struct pointing into the caller's buffer (borrowed:
 * valid as long as the buffer is) and never allocate; on error they return a
 * negative -WEIR_E* and leave the output untouched. Writers take (out, cap)
 * and return the message length or a negative -WEIR_E* (nothing useful is
 * left in out then).
 */
#ifndef WEIR_PROTO_DCEP_H
#define WEIR_PROTO_DCEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types (RFC 8832 §8.2.1); 0x00, 0x01 and 0xff are reserved. */
enum {
    WEIR_DCEP_ACK = 0x02,
    WEIR_DCEP_OPEN = 0x03,
};

/*
 * Channel types (RFC 8832 §5.1). The high bit means unordered; the low bits
 * say how reliable, and the reliability parameter is a retransmission count
 * (REXMIT) or a lifetime in milliseconds (TIMED).
 */
enum {
    WEIR_DCEP_CHANNEL_RELIABLE = 0x00,
    WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT = 0x01,
    WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED = 0x02,
    WEIR_DCEP_CHANNEL_RELIABLE_UNORDERED = 0x80,
    WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81,
    WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82,
};
#define WEIR_DCEP_CHANNEL_UNORDERED_BIT 0x80

/* Priorities of RFC 8831 §6.4 as browsers send them (any u16 is accepted). */
enum {
    WEIR_DCEP_PRIORITY_BELOW_NORMAL = 128,
    WEIR_DCEP_PRIORITY_NORMAL = 256,
    WEIR_DCEP_PRIORITY_HIGH = 512,
    WEIR_DCEP_PRIORITY_EXTRA_HIGH = 1024,
};

#define WEIR_DCEP_OPEN_HEADER_LEN 12
#define WEIR_DCEP_ACK_LEN 1
/*
 * The RFC allows labels and protocols of up to 65535 bytes. Ours are short
 * names ("whiteboard", "chat"); a peer sending kilobytes of label is either
 * broken or probing, and the label ends up in logs, JSON and room state, so
 * both are capped here. A well-formed OPEN over a cap is -WEIR_ETOOBIG (the
 * caller resets the stream), distinguishable from a malformed one.
 */
#define WEIR_DCEP_LABEL_MAX 256
#define WEIR_DCEP_PROTOCOL_MAX 256
/* The largest OPEN the parser accepts and the writer produces. */
#define WEIR_DCEP_OPEN_MAX_LEN                                                                     \
    (WEIR_DCEP_OPEN_HEADER_LEN + WEIR_DCEP_LABEL_MAX + WEIR_DCEP_PROTOCOL_MAX)

/** DATA_CHANNEL_OPEN (RFC 8832 §5.1). label and protocol are not NUL-terminated. */
typedef struct weir_dcep_open {
    /* borrowed (point into the parsed buffer): */
    const char *label; /* UTF-8, label_len bytes; may be empty */
    const char *protocol;
    /* state: */
    uint32_t reliability; /* rexmit count or lifetime ms; 0 for reliable channel types */
    uint16_t priority;
    uint16_t label_len;
    uint16_t protocol_len;
    uint8_t channel_type; /* WEIR_DCEP_CHANNEL_* */
} weir_dcep_open;

/**
 * The message type of a DCEP message (first byte): WEIR_DCEP_OPEN or
 * WEIR_DCEP_ACK, -WEIR_EINVAL for an empty buffer or any other type.
 */
int weir_dcep_message_type(const uint8_t *buf, size_t len);

/**
 * Parses a DATA_CHANNEL_OPEN. Errors: -WEIR_EINVAL when the type is not
 * OPEN, the channel type is unknown, the length is not exactly 12 + label +
 * protocol, or the label or protocol is not valid UTF-8 (RFC 8832 §5.1);
 * -WEIR_ETOOBIG when the message is well formed but its label or protocol
 * is over WEIR_DCEP_LABEL_MAX / WEIR_DCEP_PROTOCOL_MAX. For the reliable
 * channel types the reliability parameter is reported as 0 (§5.1: "MUST be
 * ignored on the receiving side").
 */
int weir_dcep_open_parse(const uint8_t *buf, size_t len, weir_dcep_open *out);

/**
 * Writes a DATA_CHANNEL_OPEN; returns its length. -WEIR_EINVAL for an
 * unknown channel type or a NULL label/protocol with a non-zero length,
 * -WEIR_ETOOBIG when a string is over its cap or cap is too small. The
 * reliability parameter is written as 0 for the reliable types (§5.1).
 * Strings are not checked for UTF-8: the caller's own names.
 */
int weir_dcep_open_write(uint8_t *out, size_t cap, const weir_dcep_open *open);

/** -WEIR_EINVAL unless buf is exactly one DATA_CHANNEL_ACK byte (RFC 8832 §5.2). */
int weir_dcep_ack_parse(const uint8_t *buf, size_t len);
/** Writes DATA_CHANNEL_ACK; returns 1, or -WEIR_ETOOBIG when cap is 0. */
int weir_dcep_ack_write(uint8_t *out, size_t cap);

/** True for the unordered channel types. */
bool weir_dcep_channel_unordered(uint8_t channel_type);
/** True when label_len bytes at label equal the NUL-terminated name. */
bool weir_dcep_label_is(const weir_dcep_open *open, const char *name);

/* ---- SCTP payload protocol identifiers (RFC 8831 §8, IANA) ---- */

typedef enum weir_dcep_ppid {
    WEIR_DCEP_PPID_DCEP = 50,
    WEIR_DCEP_PPID_STRING = 51,
    WEIR_DCEP_PPID_BINARY_PARTIAL = 52, /* deprecated */
    WEIR_DCEP_PPID_BINARY = 53,
    WEIR_DCEP_PPID_STRING_PARTIAL = 54, /* deprecated */
    WEIR_DCEP_PPID_STRING_EMPTY = 56,
    WEIR_DCEP_PPID_BINARY_EMPTY = 57,
} weir_dcep_ppid;

typedef struct weir_dcep_ppid_info {
    bool is_dcep;  /* a DCEP message: parse with the functions above */
    bool is_text;  /* a string message (UTF-8), else binary; false for DCEP */
    bool is_empty; /* an empty message: SCTP cannot carry zero bytes, so the
                      sender puts one byte there that the receiver ignores
                      (RFC 8831 §6.6) */
} weir_dcep_ppid_info;

/**
 * Classifies a received PPID. -WEIR_EUNSUPPORTED for the deprecated partial
 * PPIDs 52 and 54 (the PPID-based fragmentation of pre-RFC Firefox; today's
 * browsers use explicit EOR, and reassembling these would need per-stream
 * buffers we do not keep), -WEIR_EINVAL for any other unknown value. On
 * error *out is unchanged.
 */
int weir_dcep_ppid_classify(uint32_t ppid, weir_dcep_ppid_info *out);

/** The PPID to send a message with: the empty variants when len == 0 (RFC 8831 §6.6). */
uint32_t weir_dcep_ppid_for(bool is_text, size_t len);

#endif
