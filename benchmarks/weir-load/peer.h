/**
 * One simulated peer connection of weir-load: a UDP socket, ICE done by
 * hand (stun.h), DTLS through the project's sans-IO weir_dtls, SRTP through
 * weir_srtp. A publisher peer sends the pre-encoded clip (media.h) on the
 * loop's clock; a subscriber peer counts what arrives per SSRC (packets,
 * gaps, duplicates) and unprotects one packet in verify_every to check
 * SRTP and read the send time from the payload trailer.
 *
 * ICE: we answer every Binding request, and send our own checks to every
 * remote candidate until one succeeds: as the controlling agent with
 * USE-CANDIDATE (we offered), as controlled otherwise; a 487 role
 * conflict flips the role. The address that answered carries DTLS and media.
 */
#ifndef WL_PEER_H
#define WL_PEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "pacing.h"
#include "peer/srtp.h"
#include "video_sink.h"
#include "vp8_depacketizer.h"
#include "proto/sdp.h"
#include "wl.h"

#define WL_PEER_MAX_CANDS 8
#define WL_PEER_MAX_STREAMS 80

typedef enum {
    WL_PEER_NEW,
    WL_PEER_CHECKING,
    WL_PEER_DTLS,
    WL_PEER_CONNECTED,
    WL_PEER_FAILED,
} wl_peer_state;

typedef struct wl_rx_stream {
    uint32_t ssrc;
    uint8_t pt;
    bool audio;
    uint32_t first_ext, max_ext;
    uint64_t received;
    uint64_t dups;
    int64_t last_us;     /* last packet accounted */
    uint64_t window[16]; /* 1024 most recent extended sequence numbers seen */
    /* --decode: one reassembler and decoder per video stream */
    wc_vp8_depack *depack;
    wc_video_decoder *decoder;
} wl_rx_stream;

/*
 * Video frames are captured on the frame clock into a small queue and each
 * layer sends its packets from it when its pacer lets them go (pacing.h);
 * without --pacing every packet is due at once, one burst per frame.
 */
#define WL_TX_QUEUE 16 /* frames a layer may lag behind the frame clock */

typedef struct wl_tx_frame {
    uint32_t clip_pos;  /* frame of the clip */
    int64_t capture_us; /* its time on the frame clock */
} wl_tx_frame;

typedef struct wl_tx_layer {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t trailer_seq;
    uint32_t frame;   /* frame number it is sending (== wl_tx.frame_no when idle) */
    uint32_t packet;  /* next packet of that frame */
    wl_pacing pacing; /* FACTOR x this layer's nominal bitrate */
    wl_pacer pacer;
} wl_tx_layer;

typedef struct wl_tx {
    wl_tx_layer layers[WL_MAX_LAYERS];
    size_t n_layers;
    uint32_t audio_ssrc;
    uint16_t audio_seq;
    uint32_t audio_trailer_seq;
    uint32_t frame_no;              /* frames captured so far (RTP timestamp, picture id) */
    size_t clip_pos;                /* next frame of the clip */
    wl_tx_frame queue[WL_TX_QUEUE]; /* captured frames, by frame number % WL_TX_QUEUE */
    uint32_t audio_no;
    int64_t next_video_us;
    int64_t next_audio_us;
    bool keyframe_requested;
    uint8_t ext_mid, ext_rid; /* header extension ids as negotiated; 0 = not sent */
} wl_tx;

struct wl_peer {
    wl_io io;
    wl_ctx *ctx;
    wl_part *part;
    bool is_publisher;
    wl_peer_state state;
    struct sockaddr_in local;
    char lufrag[9];
    char lpwd[25];
    char rufrag[257];
    char rpwd[257];
    bool remote_set;
    struct sockaddr_in cands[WL_PEER_MAX_CANDS];
    size_t n_cands;
    struct sockaddr_in remote; /* selected */
    bool have_remote;
    bool controlling;
    uint8_t txid[12];
    int64_t next_check_us;
    int checks_sent;
    weir_dtls *dtls;
    bool dtls_started;
    weir_srtp *srtp;
    int64_t created_us;
    int64_t connected_us;
    int64_t next_rtcp_us;
    uint32_t rtcp_ssrc;
    /* receive side */
    wl_rx_stream streams[WL_PEER_MAX_STREAMS];
    size_t n_streams;
    uint64_t verify_counter;
    uint8_t audio_pt;
    uint64_t answers; /* subscriber answers written (SDP session version) */
    bool decode;      /* --decode: unprotect every packet and decode the video */
    /* send side (publishers) */
    wl_tx tx;
};

/** Makes a subscriber peer decode its video fully (every packet unprotected). */
void wl_peer_enable_decode(wl_peer *p);
/** Creates the socket (bound to local_ip, any port) and ICE credentials. NULL on failure. */
wl_peer *wl_peer_create(wl_ctx *ctx, wl_part *part, bool is_publisher, bool controlling);
void wl_peer_destroy(wl_peer *p);
/** Our one host candidate, "candidate:1 1 udp 2130706431 IP PORT typ host". */
void wl_peer_candidate(const wl_peer *p, char *out, size_t cap);
/**
 * Sets the remote ICE credentials, fingerprint, DTLS role (from the remote
 * a=setup) and any candidates of the description. Returns 0 or -WEIR_EINVAL.
 */
int wl_peer_set_remote(wl_peer *p, const char *ufrag, const char *pwd, const char *fp_hash,
                       const char *fp, weir_sdp_setup remote_setup);
/** Adds one trickled "candidate:..." (UDP IPv4 only; others ignored). */
void wl_peer_add_candidate(wl_peer *p, const char *candidate);
/** Timers: ICE checks, DTLS retransmissions, subscriber RTCP. */
void wl_peer_housekeeping(wl_peer *p, int64_t now_us);
/**
 * Publishers: captures the frames due on the media clock, sends the video
 * packets their layer's pacer lets go and the audio that is due; returns
 * the next deadline (the next packet's time).
 */
int64_t wl_peer_send_media(wl_peer *p, int64_t now_us);
bool wl_peer_connected(const wl_peer *p);
const char *wl_peer_state_name(wl_peer_state s);
/** Expected and received packets summed over the peer's streams. */
void wl_peer_rx_totals(const wl_peer *p, uint64_t *expected, uint64_t *received, size_t *streams);

#endif
