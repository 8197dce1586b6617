/**
 * SCTP over DTLS for WebRTC data channels (RFC 8261, RFC 8831) with DCEP
 * (RFC 8832, proto/dcep.h), on top of usrsctp (Debian libusrsctp-dev).
 *
 * Why usrsctp: it is the SCTP stack browsers use, kept up to date by its
 * maintainers and packaged by Debian; an SCTP stack (congestion control,
 * retransmission, stream reset, partial reliability) is not something to
 * write twice.
 *
 * One weir_sctp is one association, fed with the application-data records
 * of its DTLS session (weir_sctp_handle_packet) and drained like a sans-IO
 * core: weir_sctp_poll_transmit gives the SCTP packets to encrypt and send
 * as DTLS records, weir_sctp_poll_event the channel events and messages.
 *
 * Not a pure layer (it locks), hence shell/: the worker and weir-client both
 * use it.
 *
 * Threads: usrsctp is one stack per process. Its timers run from
 * weir_sctp_global_tick, which any thread may call (workers call it from
 * their 10 ms tick; only one runs the timers at a time), so usrsctp may
 * produce packets or events for an association on a thread that does not
 * own it. They are queued inside the association under its own mutex, and
 * cfg.wake(cfg.wake_user) is called (from that thread) so the owner drains
 * them. Every other function is for the owning thread only.
 *
 * wake runs with a process-wide registry lock held (that is what makes
 * weir_sctp_destroy safe against a timer on another thread: once destroy
 * returns, no callback for that association runs or will run), so it must
 * be short and must not call into this module: set a flag, write an
 * eventfd. After any owner call, drain poll_transmit and poll_event: work
 * done inside an owner call does not wake.
 *
 * usrsctp runs without threads (usrsctp_init_nothreads), one AF_CONN socket
 * per association, CRC32c checked by nobody on input (DTLS authenticates)
 * and computed here on output (peers check it), path MTU fixed at
 * WEIR_SCTP_MTU, 1024 streams each way, stream reset enabled.
 *
 * Stream parity: our opens use our DTLS role's parity (RFC 8832 §6). An
 * OPEN from the peer on our parity is accepted when the stream is free
 * (aiortc picks its parity from its ICE role); our opens skip streams in
 * use, so the two sides never share one.
 *
 * Channels: ordered or unordered, reliable or partially reliable, opened by
 * either side with DCEP (OPEN answered by ACK). Message boundaries are
 * kept; text (PPID 51) and binary (PPID 53), empty messages (PPID 56/57),
 * up to cfg.max_message_size received (larger ones are refused: the
 * channel is closed, a CHANNEL_CLOSED event says why) and up to the peer's
 * a=max-message-size sent. Each channel has its own bounded send queue in
 * front of usrsctp's send buffer: a peer that stops reading fills its own
 * queues and nothing else.
 *
 * Malformed SCTP or DCEP input never crashes: usrsctp checks packets (CRC32c
 * is skipped, DTLS already authenticates), a bad DCEP message closes its
 * channel, and everything else is counted in weir_sctp_stats.
 */
#ifndef WEIR_SHELL_SCTP_H
#define WEIR_SHELL_SCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_SCTP_PORT 5000 /* a=sctp-port default (RFC 8841 §5) */
/* What Weir announces in a=max-message-size and accepts by default. */
#define WEIR_SCTP_DEFAULT_MAX_MESSAGE 262144
/* RFC 8841 §6: a peer that announces no a=max-message-size accepts 64 KiB. */
#define WEIR_SCTP_REMOTE_DEFAULT_MAX_MESSAGE 65536
#define WEIR_SCTP_LABEL_MAX 256
#define WEIR_SCTP_MAX_CHANNELS 64 /* open channels per association */
/* SCTP heartbeat interval: keeps an idle data-only connection visibly alive (sctp.c). */
#define WEIR_SCTP_HEARTBEAT_MS 1000
/* The largest SCTP packet handed to poll_transmit (fits a DTLS record on a 1280 MTU path). */
#define WEIR_SCTP_MTU 1200

typedef struct weir_sctp weir_sctp;

typedef struct weir_sctp_config {
    uint16_t local_port;  /* our a=sctp-port (WEIR_SCTP_PORT) */
    uint16_t remote_port; /* theirs */
    /* The largest message we accept (what we announce); 0 = WEIR_SCTP_DEFAULT_MAX_MESSAGE. */
    uint32_t max_message_size;
    /* The peer's a=max-message-size; 0 = absent (WEIR_SCTP_REMOTE_DEFAULT_MAX_MESSAGE). */
    uint32_t remote_max_message_size;
    /* Bytes queued per channel, over usrsctp's send buffer, before send says -WEIR_EAGAIN. */
    uint32_t max_buffered_per_channel; /* 0 = 1 MiB */
    /* Our DTLS role: the DTLS client opens channels on even stream ids, the server on odd ones
     * (RFC 8832 §6). */
    bool dtls_client;
    /* Called from any thread when events or packets were queued outside an owner call. */
    void (*wake)(void *wake_user);
    void *wake_user;
    const char *log_id; /* copied; may be NULL */
} weir_sctp_config;

typedef enum {
    WEIR_SCTP_EVENT_CONNECTED = 1,  /* the association is up: channels can be opened */
    WEIR_SCTP_EVENT_CHANNEL_OPEN,   /* stream, label, protocol: opened by either side */
    WEIR_SCTP_EVENT_MESSAGE,        /* stream, binary, data/len */
    WEIR_SCTP_EVENT_CHANNEL_CLOSED, /* stream, reason: by the peer (stream reset) or by us */
    WEIR_SCTP_EVENT_DRAINED,        /* stream, sent_total: its send queue became empty */
    WEIR_SCTP_EVENT_CLOSED,         /* the association is gone (ABORT, SHUTDOWN, lost): reason */
} weir_sctp_event_type;

typedef struct weir_sctp_event {
    weir_sctp_event_type type;
    uint16_t stream;
    bool binary;
    bool ordered; /* CHANNEL_OPEN */
    char label[WEIR_SCTP_LABEL_MAX + 1];
    char protocol[WEIR_SCTP_LABEL_MAX + 1];
    char reason[120];
    /* MESSAGE: owned by the association, valid until the next call on it. */
    const uint8_t *data;
    size_t len;
    /* DRAINED: bytes of messages this channel has handed to SCTP since it opened. */
    uint64_t sent_total;
} weir_sctp_event;

typedef struct weir_sctp_stats {
    uint64_t packets_in, packets_out;
    uint64_t messages_in, messages_out;
    uint64_t bytes_in, bytes_out; /* message payload bytes */
    uint64_t dcep_malformed;      /* bad DCEP messages (their channel was closed) */
    uint64_t oversize_in;         /* messages over max_message_size (channel closed) */
    uint64_t unknown_stream_in;   /* data on a stream no DCEP OPEN created */
    uint64_t events_dropped;      /* poll_event not drained in time */
} weir_sctp_stats;

/** Once per process, from any thread (idempotent, thread-safe). 0 or -WEIR_E*. */
int weir_sctp_global_init(void);
/** Runs usrsctp's timers up to now (any thread, non-blocking: skips when another runs them). */
void weir_sctp_global_tick(int64_t now_us);
/** At exit, after every association is destroyed. */
void weir_sctp_global_shutdown(void);

/** Creates the association and starts it (INIT is queued for poll_transmit). NULL on failure. */
weir_sctp *weir_sctp_create(const weir_sctp_config *cfg);
/** Aborts the association if up and frees it; no callbacks after it returns. NULL is a no-op. */
void weir_sctp_destroy(weir_sctp *s);

/** One DTLS application-data record (one SCTP packet). buf is borrowed for the call. */
void weir_sctp_handle_packet(weir_sctp *s, const uint8_t *buf, size_t len);
/** Next SCTP packet to send as one DTLS record: 1 with buf[0..*len) filled (cap >= WEIR_SCTP_MTU), or 0. */
int weir_sctp_poll_transmit(weir_sctp *s, uint8_t *buf, size_t cap, size_t *len);
/** Next event: 1 with *out filled (see the lifetime of data), or 0. */
int weir_sctp_poll_event(weir_sctp *s, weir_sctp_event *out);

/**
 * Opens an ordered, reliable channel (DCEP OPEN). *stream_out gets its id.
 * The channel may carry messages at once (RFC 8832 §6: no need to wait for
 * the ACK). 0, -WEIR_EAGAIN before CONNECTED, -WEIR_EFULL over
 * WEIR_SCTP_MAX_CHANNELS, -WEIR_ETOOBIG for a label or protocol over 256.
 */
int weir_sctp_open_channel(weir_sctp *s, const char *label, const char *protocol,
                           uint16_t *stream_out);
/**
 * Queues one message on an open channel. 0; -WEIR_ENOTFOUND no such open
 * channel; -WEIR_ETOOBIG over the peer's max message size; -WEIR_EAGAIN when
 * the channel's queue would exceed max_buffered_per_channel (nothing queued:
 * the caller decides; Weir closes that channel).
 */
int weir_sctp_send(weir_sctp *s, uint16_t stream, bool binary, const uint8_t *data, size_t len);
/**
 * For tests and fuzzing only: hands one message with any PPID to SCTP on any
 * stream, bypassing channels, DCEP and the send queue (a misbehaving peer).
 * 0, -WEIR_EAGAIN before CONNECTED or when usrsctp's buffer is full,
 * -WEIR_EINVAL for len 0, -WEIR_EIO when usrsctp refuses it.
 */
int weir_sctp_send_raw(weir_sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data,
                       size_t len);
/** Bytes queued on the channel and not yet handed to SCTP. */
size_t weir_sctp_buffered(const weir_sctp *s, uint16_t stream);
/** Closes the channel (outgoing stream reset, RFC 8831 §6.7); a CHANNEL_CLOSED event follows. */
int weir_sctp_close_channel(weir_sctp *s, uint16_t stream, const char *reason);
bool weir_sctp_connected(const weir_sctp *s);
void weir_sctp_get_stats(const weir_sctp *s, weir_sctp_stats *out);

#endif
