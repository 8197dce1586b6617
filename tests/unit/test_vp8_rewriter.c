/*
 * weir_vp8_rewriter: PictureID / TL0PICIDX / KEYIDX continuity across
 * switches (P2), no gap for frames dropped on purpose (P1), small counters
 * by offset (P3), 7-bit PictureIDs (P4). Each row is a script.
 */
#include <criterion/criterion.h>

#include "rtc/vp8_rewriter.h"

enum op { END = 0, MAP, DROP, SYNC };

#define NONE (-1)

typedef struct step {
    enum op op;
    int pid; /* NONE: no PictureID */
    bool pid15;
    int tl0;    /* NONE: no TL0PICIDX */
    int keyidx; /* NONE: no KEYIDX */
    weir_seqmap_result res;
    int want_pid; /* as written: modulo the packet's width */
    int want_tl0;
    int want_keyidx;
} step;

typedef struct script {
    const char *name;
    step steps[14];
} script;

/* 15-bit PictureID + TL0PICIDX, the shape libwebrtc sends with temporal layers */
/* clang-format off */
#define M15(pid, tl0, wpid, wtl0) {MAP, pid, true, tl0, NONE, WEIR_SEQMAP_OK, wpid, wtl0, NONE}
#define D15(pid, tl0) {DROP, pid, true, tl0, NONE, 0, 0, 0, 0}
#define M7(pid, wpid) {MAP, pid, false, NONE, NONE, WEIR_SEQMAP_OK, wpid, NONE, NONE}
#define MK(pid, k, wpid, wk) {MAP, pid, true, NONE, k, WEIR_SEQMAP_OK, wpid, NONE, wk}
#define REFUSED(pid, res) {MAP, pid, true, NONE, NONE, res, 0, 0, 0}
#define S {SYNC, 0, false, 0, 0, 0, 0, 0, 0}
/* clang-format on */

static const script SCRIPTS[] = {
    {"first source unchanged; a switch continues every counter",
     {M15(100, 5, 100, 5), M15(101, 5, 101, 5), M15(101, 5, 101, 5), M15(102, 6, 102, 6), S,
      M15(9000, 200, 103, 7), M15(9001, 200, 104, 7), M15(9002, 201, 105, 8)}},
    {"dropped temporal frames leave no PictureID gap (multi-packet frames)",
     {M15(10, 1, 10, 1), D15(11, 1), D15(11, 1), M15(12, 1, 11, 1), M15(12, 1, 11, 1), D15(13, 1),
      M15(14, 2, 12, 2), D15(15, 2), M15(16, 2, 13, 2)}},
    {"a late packet of an older frame keeps that frame's number",
     {M15(20, 0, 20, 0), D15(21, 0), M15(22, 0, 21, 0), M15(20, 0, 20, 0),
      REFUSED(21, WEIR_SEQMAP_DROPPED)}},
    {"15-bit PictureID wraps",
     {M15(32766, 9, 32766, 9), M15(32767, 9, 32767, 9), M15(0, 10, 0, 10)}},
    {"TL0PICIDX wraps within a source and across a switch",
     {M15(1, 254, 1, 254), M15(2, 255, 2, 255), S, M15(700, 17, 3, 0), M15(701, 18, 4, 1)}},
    {"7-bit PictureID wraps and keeps counting",
     {M7(126, 126), M7(127, 127), M7(0, 0), M7(1, 1), M7(127, 127), M7(2, 2)}},
    {"7-bit source after a 15-bit one continues modulo 128",
     {M15(300, 0, 300, 0), S, M7(5, 301 & 0x7f), M7(6, 302 & 0x7f), M7(7, 303 & 0x7f)}},
    {"KEYIDX continues across a switch modulo 32",
     {MK(1, 30, 1, 30), MK(2, 31, 2, 31), S, MK(50, 3, 3, 0), MK(51, 4, 4, 1)}},
    {"a packet without extensions is left alone",
     {{MAP, NONE, false, NONE, NONE, WEIR_SEQMAP_OK, 0, NONE, NONE}, M15(40, 3, 40, 3)}},
    {"a frame older than the switch point is refused",
     {M15(10, 0, 10, 0), S, M15(500, 0, 11, 1), REFUSED(499, WEIR_SEQMAP_TOO_OLD)}},
};

static weir_vp8_desc make_desc(const step *st)
{
    weir_vp8_desc d = {.header_len = 1};
    if (st->pid != NONE) {
        d.has_picture_id = true;
        d.picture_id_15 = st->pid15;
        d.picture_id = (uint16_t)st->pid;
    }
    if (st->tl0 != NONE) {
        d.has_tl0picidx = true;
        d.tl0picidx = (uint8_t)st->tl0;
    }
    if (st->keyidx != NONE) {
        d.has_keyidx = true;
        d.keyidx = (uint8_t)st->keyidx;
    }
    return d;
}

static void run_script(const script *sc)
{
    weir_vp8_rewriter r;
    weir_vp8_rewriter_init(&r);
    for (size_t i = 0; i < 14 && sc->steps[i].op != END; i++) {
        const step *st = &sc->steps[i];
        weir_vp8_desc d = make_desc(st);
        if (st->op == SYNC) {
            weir_vp8_rewriter_sync(&r);
            continue;
        }
        if (st->op == DROP) {
            weir_vp8_rewriter_drop(&r, &d);
            continue;
        }
        weir_vp8_ids ids = {.picture_id = 0xabcd};
        weir_seqmap_result res = weir_vp8_rewriter_map(&r, &d, &ids);
        cr_assert_eq(res, st->res, "%s: step %zu: result %d", sc->name, i, res);
        if (res != WEIR_SEQMAP_OK) {
            cr_assert_eq(ids.picture_id, 0xabcd, "%s: out written on refusal", sc->name);
            continue;
        }
        if (st->pid != NONE) {
            int width = st->pid15 ? 0x7fff : 0x7f;
            cr_assert_eq(ids.picture_id & width, st->want_pid, "%s: step %zu: PictureID %d",
                         sc->name, i, ids.picture_id & width);
        }
        if (st->tl0 != NONE)
            cr_assert_eq(ids.tl0picidx, st->want_tl0, "%s: step %zu: TL0PICIDX %d", sc->name, i,
                         ids.tl0picidx);
        if (st->keyidx != NONE)
            cr_assert_eq(ids.keyidx, st->want_keyidx, "%s: step %zu: KEYIDX %d", sc->name, i,
                         ids.keyidx);
    }
}

Test(vp8_rewriter, scripts)
{
    for (size_t i = 0; i < sizeof SCRIPTS / sizeof SCRIPTS[0]; i++)
        run_script(&SCRIPTS[i]);
}

/* End to end on wire bytes: parse, map, write, parse again. */
Test(vp8_rewriter, rewrites_wire_bytes_across_a_switch)
{
    /* X I L T, 15-bit PictureID, TL0PICIDX, TID 0; then a delta payload byte. */
    uint8_t a[] = {0x90, 0xe0, 0x80 | 0x12, 0x34, 0x09, 0x00, 0x01};
    uint8_t b[] = {0x90, 0xe0, 0x80 | 0x40, 0x00, 0x77, 0x00, 0x01};
    weir_vp8_rewriter r;
    weir_vp8_rewriter_init(&r);
    weir_vp8_desc d;
    weir_vp8_ids ids;
    cr_assert_eq(weir_vp8_parse(&d, a, sizeof a), 0);
    cr_assert_eq(weir_vp8_rewriter_map(&r, &d, &ids), WEIR_SEQMAP_OK);
    cr_assert_eq(weir_vp8_write_ids(a, sizeof a, &d, &ids), 0);
    weir_vp8_rewriter_sync(&r);
    cr_assert_eq(weir_vp8_parse(&d, b, sizeof b), 0);
    cr_assert_eq(weir_vp8_rewriter_map(&r, &d, &ids), WEIR_SEQMAP_OK);
    cr_assert_eq(weir_vp8_write_ids(b, sizeof b, &d, &ids), 0);
    cr_assert_eq(weir_vp8_parse(&d, b, sizeof b), 0);
    cr_assert_eq(d.picture_id, 0x1235);
    cr_assert_eq(d.tl0picidx, 0x0a);
}
