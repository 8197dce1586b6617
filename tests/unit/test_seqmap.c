/*
 * weir_seqmap: each table row is a script of forward / drop / sync steps
 * with the expected result; then a seeded model test checks G1-G4 against
 * the ideal in-order numbering over several wraps with reordering.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rtc/seqmap.h"
#include "weir/errors.h"

enum op { END = 0, FWD, DROP, SYNC };

typedef struct step {
    enum op op;
    uint32_t in;
    weir_seqmap_result res; /* FWD only */
    uint32_t out;           /* FWD with WEIR_SEQMAP_OK only */
} step;

typedef struct script {
    const char *name;
    unsigned bits;
    step steps[16];
} script;

/* clang-format off */
#define F(in, out) {FWD, in, WEIR_SEQMAP_OK, out}
#define F_DROPPED(in) {FWD, in, WEIR_SEQMAP_DROPPED, 0}
#define F_OLD(in) {FWD, in, WEIR_SEQMAP_TOO_OLD, 0}
#define D(in) {DROP, in, 0, 0}
#define S {SYNC, 0, 0, 0}
/* clang-format on */

static const script SCRIPTS[] = {
    {"in order across the wrap maps to itself",
     16,
     {F(65533, 65533), F(65534, 65534), F(65535, 65535), F(0, 0), F(1, 1)}},
    {"drops across the wrap leave no gap",
     16,
     {F(65534, 65534), D(65535), F(0, 65535), D(1), D(2), F(3, 0), F(4, 1)}},
    {"loss upstream keeps its slot; the late packet fills it",
     16,
     {F(10, 10), F(12, 12), F(11, 11), F(13, 13)}},
    {"a late packet older than a drop gets its in-order slot",
     16,
     {F(100, 100), D(102), F(103, 102), F(101, 101), F(104, 103)}},
    {"late packet before a run of drops across the wrap",
     16,
     {F(65530, 65530), D(65532), D(65533), D(65534), D(65535), D(0), F(1, 65532), F(65531, 65531)}},
    {"a dropped input stays dropped", 16, {F(7, 7), D(8), F(9, 8), F_DROPPED(8), F(9, 8)}},
    {"a retransmission gets the same output", 16, {F(5, 5), F(6, 6), F(5, 5), F(6, 6)}},
    {"dropping an input older than the newest is ignored (G6)",
     16,
     {F(20, 20), F(22, 22), D(21), F(23, 23)}},
    {"sync continues after the newest output; older inputs are refused",
     16,
     {F(1000, 1000), F(1001, 1001), F(1002, 1002), S, F(40000, 1003), F(40001, 1004), F_OLD(39999),
      F(40002, 1005)}},
    {"sync whose first input is dropped",
     16,
     {F(10, 10), S, D(500), D(501), F(502, 11), F(503, 12)}},
    {"sync across the output wrap", 16, {F(65535, 65535), S, F(7, 0), F(8, 1)}},
    {"sync while the old stream had a gap after the newest output",
     16,
     {F(10, 10), F(12, 12), S, F(300, 13)}},
    {"sync after only drops continues after the last output",
     16,
     {F(50, 50), D(51), S, F(9000, 51)}},
    {"sync before any output maps the first input to itself", 16, {S, F(77, 77), F(78, 78)}},
    {"first input dropped, next one takes nothing's place", 16, {D(30), F(31, 30), F(32, 31)}},
    {"15-bit space (VP8 PictureID) wraps at 32767",
     15,
     {F(32766, 32766), D(32767), F(0, 32767), F(1, 0)}},
};

static void run_script(const script *sc)
{
    weir_seqmap m;
    cr_assert_eq(weir_seqmap_init(&m, sc->bits), 0, "%s", sc->name);
    for (size_t i = 0; i < 16 && sc->steps[i].op != END; i++) {
        const step *st = &sc->steps[i];
        if (st->op == DROP) {
            weir_seqmap_drop(&m, st->in);
        } else if (st->op == SYNC) {
            weir_seqmap_sync(&m);
        } else {
            uint32_t out = 0xdeadbeef;
            weir_seqmap_result res = weir_seqmap_forward(&m, st->in, &out);
            cr_assert_eq(res, st->res, "%s: step %zu (in %u): result %d", sc->name, i, st->in, res);
            if (res == WEIR_SEQMAP_OK)
                cr_assert_eq(out, st->out, "%s: step %zu: in %u -> %u, want %u", sc->name, i,
                             st->in, out, st->out);
            else
                cr_assert_eq(out, 0xdeadbeef, "%s: out written on refusal", sc->name);
        }
    }
}

Test(seqmap, scripts)
{
    for (size_t i = 0; i < sizeof SCRIPTS / sizeof SCRIPTS[0]; i++)
        run_script(&SCRIPTS[i]);
}

Test(seqmap, init_rejects_bad_widths)
{
    weir_seqmap m;
    cr_assert_eq(weir_seqmap_init(&m, 1), -WEIR_EINVAL);
    cr_assert_eq(weir_seqmap_init(&m, 17), -WEIR_EINVAL);
    cr_assert_eq(weir_seqmap_init(&m, 8), 0);
    uint32_t out;
    cr_assert_not(weir_seqmap_last_output(&m, &out));
    cr_assert_eq(weir_seqmap_forward(&m, 255, &out), WEIR_SEQMAP_OK);
    cr_assert_eq(out, 255);
    cr_assert_eq(weir_seqmap_forward(&m, 256 + 1, &out), WEIR_SEQMAP_OK, "high bits ignored");
    cr_assert_eq(out, 1);
    cr_assert(weir_seqmap_last_output(&m, &out));
    cr_assert_eq(out, 1);
}

/*
 * G5: more drop runs than remembered. Input 3k+1 goes missing (arrives
 * late), 3k+2 is dropped (one run each), 3k+3 is forwarded. In order the
 * outputs would be 3k+1 -> 2k+1 and 3k+3 -> 2k+2. The oldest runs are
 * forgotten, so the earliest late packets are refused, never misnumbered,
 * and the later ones still land in their slots.
 */
Test(seqmap, forgotten_runs_move_the_horizon_never_misnumber)
{
    enum { BLOCKS = WEIR_SEQMAP_MAX_RUNS + 8 };
    weir_seqmap m;
    weir_seqmap_init(&m, 16);
    uint32_t base = 65500, out;
    cr_assert_eq(weir_seqmap_forward(&m, base, &out), WEIR_SEQMAP_OK);
    for (uint32_t k = 0; k < BLOCKS; k++) {
        weir_seqmap_drop(&m, (base + 3 * k + 2) & 0xffff);
        cr_assert_eq(weir_seqmap_forward(&m, (base + 3 * k + 3) & 0xffff, &out), WEIR_SEQMAP_OK);
        cr_assert_eq(out, (base + 2 * k + 2) & 0xffff);
    }
    int refused = 0;
    for (uint32_t k = 0; k < BLOCKS; k++) {
        weir_seqmap_result res = weir_seqmap_forward(&m, (base + 3 * k + 1) & 0xffff, &out);
        if (res == WEIR_SEQMAP_TOO_OLD) {
            cr_assert_eq(refused, (int)k, "refusals are the oldest ones only");
            refused++;
            continue;
        }
        cr_assert_eq(res, WEIR_SEQMAP_OK);
        cr_assert_eq(out, (base + 2 * k + 1) & 0xffff, "block %u", k);
    }
    cr_assert_eq(refused, BLOCKS - WEIR_SEQMAP_MAX_RUNS);
}

/* xorshift32: the test replays exactly from its seed. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/*
 * Model: inputs 0..N-1 (unwrapped, starting near the wrap) are each either
 * dropped (delivered in place) or forwarded (delivered up to DELAY slots
 * late, sometimes twice). The ideal output of a forwarded input is its rank
 * among the inputs not dropped, as if everything had come in order. Every
 * output must equal it: no gap of our making (G1), duplicates stable (G2),
 * late packets in their slots (G3), hence no two inputs share an output (G4).
 */
Test(seqmap, model_reordering_drops_and_duplicates_over_wraps)
{
    enum { N = 200000, DELAY = 8 };
    static int64_t ideal[N];
    static int32_t due[N + DELAY + 1][2]; /* per delivery slot: up to two late inputs */
    memset(due, 0xff, sizeof due);
    uint32_t seed = 0x9e3779b9, first = 65000;
    weir_seqmap m;
    weir_seqmap_init(&m, 16);
    int64_t kept = 0;
    size_t delivered = 0;
    for (int64_t i = 0; i < N + DELAY + 1; i++) {
        if (i < N) {
            bool drop = i > 0 && next_rand(&seed) % 4 == 0;
            ideal[i] = drop ? -1 : kept++;
            if (drop) {
                weir_seqmap_drop(&m, (uint32_t)(first + i) & 0xffff);
            } else {
                int64_t at = i + (i > 0 ? next_rand(&seed) % DELAY : 0);
                int slot = due[at][0] < 0 ? 0 : 1;
                if (due[at][slot] < 0)
                    due[at][slot] = (int32_t)i;
            }
        }
        for (int slot = 0; slot < 2 && i < N + DELAY + 1; slot++) {
            int32_t x = due[i][slot];
            if (x < 0)
                continue;
            uint32_t out;
            int repeats = next_rand(&seed) % 16 == 0 ? 2 : 1;
            for (int r = 0; r < repeats; r++) {
                cr_assert_eq(weir_seqmap_forward(&m, (uint32_t)(first + x) & 0xffff, &out),
                             WEIR_SEQMAP_OK, "input %d refused", x);
                cr_assert_eq(out, (uint32_t)(first + ideal[x]) & 0xffff, "input %d", x);
            }
            delivered++;
        }
    }
    cr_assert_gt(delivered, N / 2, "the model forwarded most inputs");
}
