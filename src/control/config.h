/**
 * Server configuration: an INI-style file (`[section]`, `key = value`,
 * `#` or `;` comments, values optionally in double quotes), defaults for
 * every key, and validation that names the offending key.
 * conf/weir.conf documents every option; docs/config.md explains them.
 */
#ifndef WEIR_CONTROL_CONFIG_H
#define WEIR_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/log.h"

typedef struct weir_config {
    /* [server] */
    char *listen_address;  /* "127.0.0.1" */
    int listen_port;       /* 8088, 1..65535 (0 allowed: pick a free port, for tests) */
    char *web_root;        /* WEIR_DEFAULT_WEB_ROOT (compile-time, the source tree's web/) */
    char *tls_cert;        /* "" = plain HTTP; both tls_cert and tls_key or neither */
    char *tls_key;         /* "" */
    int workers;           /* 0 = one per core; 0..256 */
    int max_participants;  /* server-wide capacity, 1000; 1..1000000 */
    int shutdown_grace_ms; /* time to flush `bye` frames on shutdown, 500; 0..10000 */
    char *data_dir;        /* "var/weir": room logs, recordings (later issues) */

    /* [log] */
    weir_log_level log_level;       /* info */
    double log_participant_per_sec; /* 2.0: log lines per second about one participant */
    double log_participant_burst;   /* 20 */

    /* [rooms] */
    bool rooms_auto_create;           /* true: `join` creates the room; false: admin API only */
    int room_max_participants;        /* 100; 1..100000 */
    bool rooms_auto_subscribe;        /* true */
    bool students_publish_by_default; /* true; false = students publish only when allowed */

    /* [auth] */
    char *auth_secret;   /* "" = auth off (dev); otherwise HS256 secret, >= 16 bytes */
    int auth_leeway_s;   /* 30; 0..600 — clock skew allowed on exp/nbf */
    char *admin_key;     /* "" = /api answers 403 */
    int token_max_ttl_s; /* 86400: longest token the admin API mints; 60..31536000 */

    /* [signalling] */
    double rate_limit_per_sec;  /* 20 requests per second sustained per connection */
    double rate_limit_burst;    /* 50 */
    int abuse_disconnect_after; /* 100: rejected messages in a row before disconnect */
    int join_timeout_s;         /* 60: a socket that has not joined by then is closed (0 = never) */

    /* [media] */
    char *ice_bind_addresses;  /* "" = libnice enumerates (skips loopback); comma/space separated */
    int ice_port_min;          /* 0 = any; 0..65535 */
    int ice_port_max;          /* 0 = any */
    char *announced_ip;        /* "" = off; 1:1 NAT address signalled for host candidates */
    int ice_consent_timeout_s; /* 5: inbound silence before a PC counts as disconnected (0 = off) */
    int peer_timeout_s;   /* 20: disconnected/failed this long → participant_left "timeout" */
    char *ice_servers;    /* "" = none; STUN/TURN URLs handed to clients in join's ice_servers */
    char *ice_username;   /* TURN username for those URLs ("" = none) */
    char *ice_credential; /* TURN credential */
    char *dtls_cert;      /* "" = generate an ECDSA P-256 certificate at start-up; PEM file */
    char *dtls_key;       /* its private key (PEM, unencrypted); both or neither */
    char *video_codecs;   /* preference order of the video codecs accepted from publishers */
    char *rtp_dump_dir;   /* "" = off; debugging: rtpdump files of publishers' decrypted RTP */
    int rtp_dump_max_packets; /* 5000: per stream file */

    /* [data] (control/datachannel.c) */
    bool data_history_on_disk;         /* true: <data_dir>/rooms/; false: memory only */
    int data_fsync_interval_ms;        /* 50; 0 = fdatasync every message */
    int data_chat_history;             /* 200 chat messages kept per room */
    int data_max_message_size;         /* 262144: announced and accepted; 1024..262144 */
    int data_max_buffered_per_channel; /* 1048576: per channel send queue, then it is closed */
    int data_flood_messages_per_s;     /* 200 per participant (1 s burst); 0 = unlimited */
    int data_flood_bytes_per_s;        /* 1048576 per participant (1 s burst); 0 = unlimited */
    int data_compact_ratio;            /* 2: compact a room log at 2x its live size; 0 = never */

    /* [taps] (control/taps.c) */
    char *taps_allow;              /* "127.0.0.0/8, ::1": CIDR list of hosts taps may send to */
    int taps_max;                  /* 16: taps open at once, server-wide (0 = taps off) */
    int taps_keyframe_interval_ms; /* 2000: keyframe asked this often per video tap; 0 = at start */

    /* [recorder] (control/recordings.c, plugins/recorder/) */
    bool recorder_enabled;          /* true: load the recorder plugin at start */
    char *recorder_plugin;          /* "" = the built one (build dir, then the install dir) */
    char *recorder_dir;             /* "" = <data_dir>/recordings */
    int recorder_max_active;        /* 16 recordings at once, server-wide */
    int recorder_queue_packets;     /* 512 per track between worker and recorder thread */
    int recorder_max_wait_ms;       /* 300: a packet gap is waited for (retransmissions) */
    int recorder_sync_wait_ms;      /* 5000: frames held until the first sender report */
    int recorder_fsync_interval_ms; /* 2000: fdatasync of each file; 0 = never */
    int recorder_stop_timeout_ms;   /* 5000: record_stop waits this long for the files */
} weir_config;

/** Largest config file weir_config_load_file accepts. */
#define WEIR_CONFIG_MAX_FILE_BYTES (1024 * 1024)

/** Fills every field with its default (strings allocated). */
void weir_config_init(weir_config *cfg);
/** Frees the strings; the struct may be init'ed again. */
void weir_config_deinit(weir_config *cfg);

/**
 * Applies the text of a config file over what *cfg holds now. text is
 * borrowed and need not be NUL-terminated. Returns 0, or -WEIR_EINVAL with
 * one line in err (when err is non-NULL) naming the line number and the key
 * (e.g. "line 12: [server] listen_port: expected an integer 0..65535,
 * got \"abc\""). On error *cfg is unchanged.
 */
int weir_config_parse(weir_config *cfg, const char *text, size_t len, char *err, size_t errlen);

/**
 * Reads and parses a file of at most WEIR_CONFIG_MAX_FILE_BYTES; errors as
 * weir_config_parse, plus -errno ("cannot read PATH: <strerror>") when the file
 * cannot be read and -WEIR_ETOOBIG when it is too large. On error *cfg is unchanged.
 */
int weir_config_load_file(weir_config *cfg, const char *path, char *err, size_t errlen);

/**
 * Sets one option from text exactly as the file would (section "server", key
 * "listen_port", value "8080"; value unquoted), with the same checks: for
 * command-line overrides. Returns 0, or -WEIR_EINVAL with err like
 * "[server] listen_port: expected an integer 0..65535, got \"x\"" and the
 * field unchanged. All arguments are borrowed.
 */
int weir_config_set(weir_config *cfg, const char *section, const char *key, const char *value,
                    char *err, size_t errlen);

/**
 * Cross-field checks (tls_cert without tls_key, secret too short, empty
 * listen_address) and the ranges again, for fields set directly rather than
 * parsed. 0 or -WEIR_EINVAL + err naming the key.
 */
int weir_config_validate(const weir_config *cfg, char *err, size_t errlen);

#endif
