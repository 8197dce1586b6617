/**
 * Sequence number rewriting for one forwarded stream, as a pure value type
 * (the role of mediasoup's SeqManager): maps an input sequence space of
 * `bits` bits (16 for RTP; 15 for VP8 PictureID) with wrap-around onto a
 * continuous output space, so that the receiver sees no gap for packets we
 * drop on purpose and no jump when the source changes.
 *
 * Words: an *input* is a sequence number of the source currently forwarded;
 * an *epoch* is the stretch between two syncs, during which all inputs come
 * from one source and one numbering; *newer/older* is serial order
 * (RFC 1982): an input is unwrapped to the value nearest the newest input
 * seen, so it is read correctly while it is less than half the space
 * (32768 for RTP) away from it.
 *
 * Guarantees, within an epoch:
 *  G1 In order, no gaps of our making: when inputs arrive in order, each
 *     forwarded output is the previous output + 1 + the number of inputs in
 *     between that were never seen (lost upstream). Dropped inputs take no
 *     output: the receiver has nothing to NACK for them.
 *  G2 Deterministic: an input forwarded again (a retransmission, a
 *     duplicate) gets the same output as the first time.
 *  G3 Reordering: an input older than the newest one seen but newer than
 *     the horizon (G5) gets the output it would have had in order, counting
 *     the drops between it and the newest input: the slot the receiver is
 *     waiting for (and NACKing) is filled.
 *  G4 Injective: two different inputs never get the same output, including
 *     across epochs (outputs of a new epoch start after every output made
 *     before, and inputs older than an epoch's first input are refused).
 * Limits:
 *  G5 Bounded memory: drops are remembered as up to WEIR_SEQMAP_MAX_RUNS
 *     runs of consecutive inputs (a multi-packet frame is one run). When a
 *     run has to be forgotten, the horizon moves to its last input and
 *     inputs at or before the horizon are refused (WEIR_SEQMAP_TOO_OLD)
 *     rather than given an output that might collide (G4). The first input
 *     of an epoch also sets the horizon just before it.
 *  G6 A drop is recorded only for an input newer than every input seen:
 *     dropping an older input (whose slot was already counted) is ignored,
 *     so its slot stays a gap; no output already sent can be renumbered.
 *  G7 Packets of another source (another simulcast SSRC) must never be
 *     given to forward() or drop(): they are another numbering. Use sync()
 *     when forwarding moves to another source or the source restarts.
 *  G8 An input more than half the space ahead is read as ahead: a jump is
 *     forwarded as a jump (the receiver sees loss), call sync() on a
 *     restart.
 *
 * Sync: after weir_seqmap_sync() the next input (forwarded or dropped)
 * starts a new epoch: the first forwarded input maps to the newest output
 * so far + 1, a first dropped input makes the input after it do so. Before
 * any output, the first forwarded input maps to itself.
 *
 * No allocation, no clock, no I/O; embed it (init, no deinit needed). The
 * struct is public only so it can be embedded: treat its fields as private.
 */
#ifndef WEIR_RTC_SEQMAP_H
#define WEIR_RTC_SEQMAP_H

#include <stdbool.h>
#include <stdint.h>

#define WEIR_SEQMAP_RTP_BITS 16
#define WEIR_SEQMAP_MAX_RUNS 32

/** What forward() decided. */
typedef enum weir_seqmap_result {
    WEIR_SEQMAP_OK = 0,  /* *out holds the output */
    WEIR_SEQMAP_DROPPED, /* this input was dropped earlier: do not send it */
    WEIR_SEQMAP_TOO_OLD, /* at or before the horizon (G5): do not send it */
} weir_seqmap_result;

typedef struct weir_seqmap_run {
    int64_t first; /* unwrapped input */
    uint32_t count;
} weir_seqmap_run;

typedef struct weir_seqmap {
    /* config: */
    uint32_t mask; /* 2^bits - 1 */
    /* state (private): */
    bool in_epoch;   /* false before the first input and after sync() */
    bool has_output; /* an output was produced (in any epoch) */
    int64_t max_in;  /* newest unwrapped input of this epoch */
    int64_t horizon; /* unwrapped inputs <= horizon are refused */
    int64_t offset;  /* output = input + offset + remembered drops newer than input */
    int64_t max_out; /* newest output (unwrapped), valid when has_output */
    uint32_t n_runs;
    weir_seqmap_run runs[WEIR_SEQMAP_MAX_RUNS]; /* oldest first, non-adjacent */
} weir_seqmap;

/** bits is 2..16. Returns 0, or -WEIR_EINVAL (then *m is unchanged). */
int weir_seqmap_init(weir_seqmap *m, unsigned bits);

/**
 * Maps a forwarded input. On WEIR_SEQMAP_OK *out is the output (in the
 * map's width); on the other results *out is unchanged and the packet must
 * not be sent.
 */
weir_seqmap_result weir_seqmap_forward(weir_seqmap *m, uint32_t in, uint32_t *out);

/** Records a deliberately dropped input so it leaves no gap (see G1, G6). */
void weir_seqmap_drop(weir_seqmap *m, uint32_t in);

/** The next input starts a new epoch continuing after the newest output. */
void weir_seqmap_sync(weir_seqmap *m);

/** Newest output so far (in the map's width); false before any output. */
bool weir_seqmap_last_output(const weir_seqmap *m, uint32_t *out);

#endif
