/**
 * What the files of one media worker share: the worker itself, the
 * participant's peers on it (wpeer), the router's table of tracks (route)
 * and the subscriber's forwarded tracks (sub_track).
 *
 *   worker.c      thread, command/event rings, peers table
 *   publisher.c   the publisher PC: ingress packets → weir_pkt → router
 *   subscriber.c  the subscriber PC: consumers, egress, RTCP from the subscriber
 *   router.c      track handle → producer + local consumers + remote workers
 *
 * Everything here is touched by the worker's thread only.
 */
#ifndef WEIR_SHELL_WORKER_INTERNAL_H
#define WEIR_SHELL_WORKER_INTERNAL_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/ring.h"
#include "peer/srtp.h"
#include "rtc/consumer.h"
#include "rtc/keyframe_requester.h"
#include "rtc/nack_generator.h"
#include "rtc/receive_stats.h"
#include "rtc/pkt.h"
#include "shell/mesh.h"
#include "shell/pc.h"
#include "shell/rtp_dump.h"
#include "shell/worker.h"
#include "shell/worker_load.h"

/*
 * Egress datagrams one subscriber PC queues before they go out in one
 * send_many. The slots are borrowed from the worker's pool (subscriber.c)
 * while queued and given back at the flush, so a PC costs memory only for
 * what it has in flight in the current loop iteration, not 16 slots (25 KiB)
 * for its whole life.
 */
#define WPEER_TX_BATCH 16
#define WPEER_TX_SLOT (WEIR_PKT_MAX + 64 + WEIR_SRTP_MAX_RTP_OVERHEAD)

typedef struct wpeer wpeer;

/* One received stream of a publisher (media, layer): receiver statistics for
 * its RR, and for video a NACK generator. Allocated on its first packet. */
#define WPEER_MAX_INGRESS_STREAMS 24
typedef struct ingress_stream {
    uint8_t media_index;
    uint8_t layer;
    uint32_t ssrc;
    weir_receive_stats *stats;
    weir_nack_generator *nack; /* video only */
} ingress_stream;

struct weir_worker {
    /* borrowed: */
    const weir_worker_media *media;
    void (*wake)(void *);
    void *wake_ctx;
    /* owned: */
    weir_ring *commands; /* control → worker */
    weir_ring *events;   /* worker → control */
    int command_fd;      /* eventfd: commands waiting */
    GMainContext *context;
    GMainLoop *loop;
    GHashTable *peers;       /* peer_id (int64 key) → wpeer */
    GHashTable *routes;      /* track handle (uint32 key) → route */
    weir_dtls_ctx *dtls_ctx; /* built lazily from media->cert on the first PC */
    GSource *stats_timer;
    pthread_t thread;
    /* state: */
    int index;
    bool started;
    bool stopped;
    uint64_t mesh_wake_mask; /* workers to wake after the current batch of pushes */
    wpeer *flush_head;       /* subscriber PCs with queued egress (linked by flush_next) */
    /* free WPEER_TX_SLOT buffers shared by the subscriber PCs (subscriber.c) */
    uint8_t **tx_pool;
    size_t tx_pool_n, tx_pool_cap;
    atomic_uint_fast64_t events_dropped;
    uint64_t mesh_drops; /* packets a full ring refused */
    int dc_fd;           /* eventfd: data channel associations to service (datachannel.c) */
    GSource *dc_source;
    uint32_t record_sinks; /* recorder feeds on this worker (record_sink.c) */
    weir_worker_load load; /* busy share of the loop, overload warnings (worker_load.h) */
};

/* A track as this worker knows it: its producer (if the publisher is here) and its consumers here. */
typedef struct route {
    uint32_t handle;
    /* the producer, when the publisher PC is on this worker: */
    wpeer *producer;
    uint8_t media_index;
    bool muted;
    uint64_t remote_workers; /* bit i: worker i has consumers (producer worker only) */
    /* consumers on this worker: */
    GPtrArray *consumers; /* sub_track*, borrowed (owned by their wpeer) */
    GPtrArray *taps;      /* struct tap* (shell/tap.c), owned; NULL until the first */
    GPtrArray *records; /* struct record_sink* (shell/record_sink.c), owned; NULL until the first */
} route;

/* One m-line of a subscriber PC: the consumer that feeds it. */
typedef struct sub_track {
    wpeer *owner;
    weir_worker_sub_track cfg;
    weir_consumer *consumer;
    int max_spatial; /* the subscriber's preferences, each kept until it changes it */
    int max_temporal;
} sub_track;

/* Per-layer ingress bookkeeping of a published media (producer side). */
typedef struct producer_media {
    uint32_t handle;
    weir_codec codec;
    int64_t last_packet_us[WEIR_PEER_MAX_RIDS];
    bool video;
    weir_keyframe_requester keyframes;       /* PLIs toward the publisher, per layer */
    weir_rtp_dump dumps[WEIR_PEER_MAX_RIDS]; /* per layer, when [media] rtp_dump_dir is set */
    /* audio level over the current stats period, for active speaker: */
    uint32_t level_sum;
    uint32_t level_count;
    uint32_t voice_count;
} producer_media;

/*
 * The producer side of a participant: what only its publisher PC uses.
 * It is not embedded in wpeer because most participants of a large room
 * only subscribe, and these arrays (sized for the most media and simulcast
 * streams one PC may carry) are ~5.6 KB, most of what a subscriber-only
 * wpeer would otherwise cost. Allocated by weir_publisher_start when the
 * publisher PC is set up, freed by weir_publisher_teardown; wp->publisher
 * is NULL until then, and code a subscriber-only participant can reach
 * (stats, feedback ticks, keyframe requests, teardown) checks it.
 */
typedef struct publisher_state {
    producer_media producers[WEIR_PEER_MAX_MEDIA];
    size_t n_producers;
    ingress_stream ingress[WPEER_MAX_INGRESS_STREAMS];
    size_t n_ingress;
    int64_t last_rr_us;
    uint64_t nacks_sent;
    bool stats_dirty;
    uint64_t packets;
    uint64_t bytes;
} publisher_state;

struct wpeer {
    weir_worker *w;
    uint64_t peer_id;
    char participant_id[48];
    char log_tag[64];
    /* publisher PC (ingress); the PC stays here since trickle and data channels reach it: */
    weir_pc pub;
    bool pub_active;
    publisher_state *publisher; /* NULL until the participant publishes */
    /* subscriber PC (egress): */
    weir_pc sub;
    bool sub_active;
    bool sub_has_peer;
    sub_track **subs; /* n_subs, one per m-line, grown as answers add m-lines (subscriber.c) */
    size_t n_subs;
    uint16_t twcc_seq;
    uint8_t ext_mid, ext_abs_send_time, ext_twcc, ext_audio_level;
    uint64_t sub_packets;
    uint64_t sub_bytes;
    uint64_t sub_retransmits; /* packets resent for the subscriber's NACKs */
    bool sub_stats_dirty;
    int64_t last_sr_us;
    /* egress batch: */
    uint8_t *tx[WPEER_TX_BATCH]; /* WPEER_TX_SLOT bytes each, from w->tx_pool; NULL: none held */
    size_t tx_len[WPEER_TX_BATCH];
    size_t n_tx;
    bool on_flush_list;
    wpeer *flush_next;
    /* data channels of the publisher PC (datachannel.c); NULL without an application m-line: */
    struct wpeer_dc *dc;
};

/* worker.c */
weir_worker_event *weir_worker_new_event(weir_worker *w, weir_worker_event_type type,
                                         uint64_t peer_id);
void weir_worker_push_event(weir_worker *w, weir_worker_event *ev);
/* A PC's state change or local candidate (text; "" = gathering done) to the control thread. */
void weir_worker_report_pc(wpeer *wp, weir_worker_event_type type, weir_pc_state state,
                           const char *text);
weir_dtls_ctx *weir_worker_dtls_ctx(weir_worker *w);
weir_publisher_state weir_worker_state_of(weir_pc_state s);
void weir_worker_ice_config(const weir_worker *w, weir_ice_config *out);

/* publisher.c */
void weir_publisher_start(wpeer *wp, const weir_worker_publish *pub);
void weir_publisher_teardown(wpeer *wp);
void weir_publisher_keyframe(wpeer *wp, uint8_t media_index, int layer);
void weir_publisher_report(wpeer *wp); /* periodic: stats and audio levels */

/* publisher_feedback.c */
void weir_publisher_feedback_start(wpeer *wp);
void weir_publisher_feedback_stop(wpeer *wp);
void weir_publisher_feedback_on_packet(wpeer *wp, const weir_peer_packet *in, bool keyframe);
void weir_publisher_feedback_tick(wpeer *wp, int64_t now_us); /* NACKs and PLIs due */

/* subscriber.c */
void weir_subscriber_start(wpeer *wp, const weir_worker_sub_start *start);
void weir_subscriber_answer(wpeer *wp, const weir_worker_sub_answer *answer);
void weir_subscriber_teardown(wpeer *wp);
void weir_subscriber_preferences(wpeer *wp, const weir_worker_track_control *tc);
/* Forwards one packet to one consumer (queues the egress datagram). */
void weir_subscriber_forward(sub_track *st, weir_pkt *p, int64_t now_us);
void weir_subscriber_periodic(wpeer *wp, int64_t now_us); /* sender reports, stats */
/* Sends every subscriber PC's queued egress. */
void weir_subscriber_flush_all(weir_worker *w);
void weir_subscriber_pool_free(weir_worker *w); /* at worker destroy, after the peers */

/* tap.c: RTP taps live on the producer's worker, as consumers of its route. */
struct tap;
void weir_tap_start(weir_worker *w, const weir_worker_tap *cfg);
void weir_tap_stop(weir_worker *w, const weir_worker_tap_stop *stop);
void weir_tap_forward(struct tap *t, weir_pkt *p, int64_t now_us);
void weir_tap_destroy(struct tap *t); /* closes its socket; the route forgets it itself */
void weir_tap_periodic(weir_worker *w, int64_t now_us); /* SRs, keyframes due, stats */

/* record_sink.c: recorder plugin feeds, on the producer's worker like taps. */
struct record_sink;
void weir_record_sink_start(weir_worker *w, const weir_worker_record *cfg);
void weir_record_sink_stop(weir_worker *w, const weir_worker_record_stop *stop);
void weir_record_sink_forward(struct record_sink *s, weir_pkt *p, int64_t now_us);
void weir_record_sink_destroy(struct record_sink *s);
void weir_record_sink_periodic(weir_worker *w, int64_t now_us); /* keyframes the recorder wants */

/* datachannel.c: SCTP data channels on the publisher PC */
int weir_datachannel_worker_init(weir_worker *w);    /* weir_worker_create */
void weir_datachannel_worker_start(weir_worker *w);  /* worker thread, before the loop */
void weir_datachannel_worker_stop(weir_worker *w);   /* worker thread, after the loop */
void weir_datachannel_worker_deinit(weir_worker *w); /* weir_worker_destroy */
void weir_datachannel_tick(int64_t now_us);          /* usrsctp timers (any worker) */
/* A publish with an application m-line prepares the association (started once DTLS is up). */
void weir_datachannel_prepare(wpeer *wp, const weir_worker_publish *pub);
void weir_datachannel_on_pc_state(wpeer *wp, weir_pc_state state);
void weir_datachannel_on_data(wpeer *wp, const uint8_t *buf, size_t len); /* DTLS app data */
void weir_datachannel_service(wpeer *wp); /* packets out, events to the control thread */
void weir_datachannel_send(wpeer *wp, const weir_worker_data *d);
void weir_datachannel_close(wpeer *wp, const weir_worker_data *d);
void weir_datachannel_fanout(weir_worker *w, const weir_worker_fanout *f);
void weir_datachannel_teardown(wpeer *wp);

/* router.c */
route *weir_router_get(weir_worker *w, uint32_t handle, bool create);
void weir_router_drop_if_unused(weir_worker *w, route *r);
/* The producer published p (the caller's reference is consumed). */
void weir_router_publish(weir_worker *w, weir_pkt *p, int64_t now_us);
void weir_router_add_consumer(weir_worker *w, sub_track *st);
void weir_router_remove_consumer(weir_worker *w, sub_track *st);
void weir_router_set_remote(weir_worker *w, const weir_worker_route *r);
void weir_router_set_muted(weir_worker *w, uint32_t handle, bool muted);
/* A consumer wants a keyframe of layer from its producer, wherever it is. */
void weir_router_request_keyframe(weir_worker *w, uint32_t handle, int layer);
void weir_router_keyframe_command(weir_worker *w, uint32_t handle, int layer);
/*
 * A consumer for a sink that is not a subscriber PC (taps, recordings): the
 * media only (no RTX, RED or header extensions) and the smallest
 * retransmission history, since nobody NACKs it (the history's references
 * would only keep packets alive). NULL when the consumer refuses the track.
 */
weir_consumer *weir_router_sink_consumer(weir_codec codec, bool audio, uint32_t clock_rate_hz,
                                         uint8_t n_layers, uint32_t ssrc, uint8_t pt, int in_pt);
/* Pops the packets other workers queued for this one and forwards them. */
void weir_router_drain_mesh(weir_worker *w);
/* After a drain: wakes the workers that got packets, sends the egress. */
void weir_router_flush(weir_worker *w);

#endif
