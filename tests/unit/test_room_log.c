/*
 * Room log (control/room_log.{c,h} + room_log_history.c): record format,
 * append / reopen / replay, torn and corrupt tails, clear, caps, compaction,
 * the fsync schedule. Every test works in its own mkdtemp directory.
 */
#include <criterion/criterion.h>

#include "support/assert_bytes.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control/room_log.h"
#include "weir/errors.h"

#define WB WEIR_ROOM_LOG_WHITEBOARD
#define CHAT WEIR_ROOM_LOG_CHAT
#define MS 1000

static char dir[64];
static char path[256];

static void rm_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || strstr(e->d_name, ".wlog"))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}

static void setup(void)
{
    strcpy(dir, "/tmp/weir-room-log.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/room1.wlog", dir);
}

TestSuite(room_log, .init = setup, .fini = rm_dir);

static weir_room_log_config config(void)
{
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg);
    cfg.dir = dir;
    return cfg;
}

static weir_room_log *open_log(const weir_room_log_config *cfg, weir_room_log_replay *r)
{
    int err = 0;
    weir_room_log *log = weir_room_log_create(cfg, "room1", 0, r, &err);
    cr_assert(log, "create: %s", weir_strerror(err));
    return log;
}

/* The message with seq s: data {"n":s}, from "p<s % 3>", ts 1000 * s. */
static int append_n(weir_room_log *log, weir_room_log_kind kind, uint64_t seq)
{
    char data[32], from[8];
    int n = snprintf(data, sizeof data, "{\"n\":%llu}", (unsigned long long)seq);
    snprintf(from, sizeof from, "p%llu", (unsigned long long)(seq % 3));
    weir_room_log_entry e = {.seq = seq,
                             .ts_ms = 1000 * (int64_t)seq,
                             .from = from,
                             .from_len = (uint16_t)strlen(from),
                             .data = (const uint8_t *)data,
                             .data_len = (uint32_t)n};
    return weir_room_log_append(log, kind, &e, (int64_t)seq * MS);
}

static void assert_entry(const weir_room_log *log, weir_room_log_kind kind, size_t i, uint64_t seq)
{
    const weir_room_log_entry *e = weir_room_log_at(log, kind, i);
    cr_assert(e, "kind %d entry %zu missing", kind, i);
    char data[32], from[8];
    snprintf(data, sizeof data, "{\"n\":%llu}", (unsigned long long)seq);
    snprintf(from, sizeof from, "p%llu", (unsigned long long)(seq % 3));
    cr_assert_eq(e->seq, seq, "kind %d entry %zu: seq %llu, want %llu", kind, i,
                 (unsigned long long)e->seq, (unsigned long long)seq);
    cr_assert_eq(e->ts_ms, 1000 * (int64_t)seq);
    cr_assert_str_eq(e->from, from);
    cr_assert_str_eq((const char *)e->data, data); /* NUL-terminated by the log */
    cr_assert_eq(e->data_len, strlen(data));
}

static off_t file_size(const char *p)
{
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "%s", p);
    return st.st_size;
}

/* clang-format off */
/* MSG: whiteboard, seq 7, ts 1700000000123, from "p1", data {"x":1}; CRC from an independent CRC-32C. */
static const uint8_t MSG_RECORD[] = {
    0x00, 0x00, 0x00, 0x1d,                         /* payload length 29 */
    0x53, 0x7f, 0x78, 0x66,                         /* CRC-32C of the payload */
    0x01, 0x00, 0x00, 0x02,                         /* MSG, whiteboard, from_len 2 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* seq */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, /* ts_ms */
    'p', '1',
    '{', '"', 'x', '"', ':', '1', '}',
};
static const uint8_t BASE_RECORD[] = {
    0x00, 0x00, 0x00, 0x14,
    0x41, 0x88, 0xe1, 0xd8,
    0x02, 0x01, 0x00, 0x00,                         /* BASE, chat */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* next seq */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* clang-format on */

Test(room_log, record_format_is_byte_exact)
{
    uint8_t out[64];
    weir_room_log_entry e = {.seq = 7,
                             .ts_ms = 1700000000123,
                             .from = "p1",
                             .from_len = 2,
                             .data = (const uint8_t *)"{\"x\":1}",
                             .data_len = 7};
    cr_assert_eq(weir_room_log_msg_size(&e), sizeof MSG_RECORD);
    assert_bytes(out, weir_room_log_msg_write(out, WB, &e), MSG_RECORD, sizeof MSG_RECORD);
    assert_bytes(out, weir_room_log_base_write(out, CHAT, 5, 0), BASE_RECORD, sizeof BASE_RECORD);
    assert_bytes(out, weir_room_log_header_write(out), (const uint8_t *)"WEIRLOG\x01", 8);
}

Test(room_log, append_reopen_replays_in_order)
{
    weir_room_log_config cfg = config();
    weir_room_log_replay r;
    weir_room_log *log = open_log(&cfg, &r);
    cr_assert_eq(r.records, 0);
    cr_assert_eq(weir_room_log_next_seq(log, WB), WEIR_ROOM_LOG_FIRST_SEQ);
    for (uint64_t s = 1; s <= 20; s++)
        cr_assert_eq(append_n(log, s % 4 ? WB : CHAT, s), 0);
    weir_room_log_destroy(log);

    log = open_log(&cfg, &r);
    cr_assert_eq(r.records, 20);
    cr_assert_eq(r.dropped_bytes, 0);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_END);
    cr_assert_eq(weir_room_log_count(log, WB), 15);
    cr_assert_eq(weir_room_log_count(log, CHAT), 5);
    size_t w = 0, c = 0;
    for (uint64_t s = 1; s <= 20; s++) {
        if (s % 4)
            assert_entry(log, WB, w++, s);
        else
            assert_entry(log, CHAT, c++, s);
    }
    cr_assert_null(weir_room_log_at(log, WB, 15));
    cr_assert_eq(weir_room_log_next_seq(log, WB), 20);
    cr_assert_eq(weir_room_log_next_seq(log, CHAT), 21);
    cr_assert_eq(weir_room_log_file_bytes(log), (uint64_t)file_size(path));
    weir_room_log_destroy(log);
}

/* Writes seqs 1..3 to the whiteboard and returns the offset where record 3 starts. */
static off_t three_records(const weir_room_log_config *cfg)
{
    weir_room_log *log = open_log(cfg, NULL);
    cr_assert_eq(append_n(log, WB, 1), 0);
    cr_assert_eq(append_n(log, WB, 2), 0);
    off_t third = (off_t)weir_room_log_file_bytes(log);
    cr_assert_eq(append_n(log, WB, 3), 0);
    weir_room_log_destroy(log);
    return third;
}

Test(room_log, torn_last_record_is_dropped_and_appends_continue)
{
    weir_room_log_config cfg = config();
    off_t third = three_records(&cfg);
    off_t full = file_size(path);
    /* every cut inside the last record: in its length, its CRC, its payload */
    for (off_t cut = third + 1; cut < full; cut++) {
        cr_assert_eq(truncate(path, cut), 0);
        weir_room_log_replay r;
        weir_room_log *log = open_log(&cfg, &r);
        cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_TORN, "cut %lld", (long long)cut);
        cr_assert_eq(r.records, 2);
        cr_assert_eq(r.accepted_bytes, (uint64_t)third);
        cr_assert_eq(r.dropped_bytes, (uint64_t)(cut - third));
        cr_assert_eq(file_size(path), third, "the torn tail is truncated away");
        cr_assert_eq(weir_room_log_count(log, WB), 2);
        cr_assert_eq(weir_room_log_next_seq(log, WB), 3);
        cr_assert_eq(append_n(log, WB, 3), 0);
        weir_room_log_destroy(log);
        cr_assert_eq(file_size(path), full, "the re-appended record is the same bytes");
    }
    weir_room_log_replay r;
    weir_room_log *log = open_log(&cfg, &r);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_END);
    for (size_t i = 0; i < 3; i++)
        assert_entry(log, WB, i, i + 1);
    weir_room_log_destroy(log);
}

static void flip_byte(off_t at)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x20;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

Test(room_log, corrupt_record_drops_it_and_everything_after)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    off_t at[6];
    for (uint64_t s = 1; s <= 6; s++) {
        at[s - 1] = (off_t)weir_room_log_file_bytes(log);
        cr_assert_eq(append_n(log, s == 5 ? CHAT : WB, s), 0);
    }
    weir_room_log_destroy(log);
    off_t full = file_size(path);

    flip_byte(at[2] + 30); /* inside record 3's data: its CRC no longer matches */
    weir_room_log_replay r;
    log = open_log(&cfg, &r);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_CORRUPT);
    cr_assert_eq(r.records, 2);
    cr_assert_eq(r.dropped_bytes, (uint64_t)(full - at[2]));
    cr_assert_eq(weir_room_log_count(log, WB), 2);
    cr_assert_eq(weir_room_log_count(log, CHAT), 0, "records after the bad one are gone too");
    cr_assert_eq(weir_room_log_next_seq(log, WB), 3);
    cr_assert_eq(file_size(path), at[2]);
    weir_room_log_destroy(log);
}

Test(room_log, impossible_fields_with_a_good_crc_are_corrupt)
{
    /* a record whose seq goes backwards, CRC and all correct: only a bug or a forgery writes it */
    uint8_t file[8 + 2 * sizeof MSG_RECORD];
    uint8_t *p = file + weir_room_log_header_write(file);
    weir_room_log_entry e = {.seq = 7, .from = "p1", .from_len = 2};
    p += weir_room_log_msg_write(p, WB, &e);
    e.seq = 6;
    p += weir_room_log_msg_write(p, WB, &e);
    weir_room_log_history *h = weir_room_log_history_create(NULL);
    weir_room_log_replay r;
    cr_assert_eq(weir_room_log_history_replay(h, file, (size_t)(p - file), &r), 0);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_CORRUPT);
    cr_assert_eq(r.records, 1);
    cr_assert_eq(weir_room_log_history_next_seq(h, WB), 8);
    weir_room_log_history_destroy(h);
}

Test(room_log, clear_empties_the_kind_keeps_the_seq_and_survives_reopen)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 5; s++)
        cr_assert_eq(append_n(log, WB, s), 0);
    cr_assert_eq(append_n(log, CHAT, 1), 0);
    cr_assert_eq(weir_room_log_clear(log, WB, 5, 6 * MS), -WEIR_EINVAL, "seq already used");
    cr_assert_eq(weir_room_log_clear(log, WB, 6, 6 * MS), 0);
    cr_assert_eq(weir_room_log_next_timeout(log), INT64_MAX, "a clear is synced at once");
    cr_assert_eq(weir_room_log_count(log, WB), 0);
    cr_assert_eq(weir_room_log_next_seq(log, WB), 7);
    cr_assert_eq(weir_room_log_count(log, CHAT), 1, "other kinds are untouched");
    cr_assert_eq(append_n(log, WB, 6), -WEIR_EINVAL, "the clear's seq is taken");
    cr_assert_eq(append_n(log, WB, 7), 0);
    cr_assert_eq(append_n(log, WB, 8), 0);
    weir_room_log_destroy(log);

    log = open_log(&cfg, NULL);
    cr_assert_eq(weir_room_log_count(log, WB), 2);
    assert_entry(log, WB, 0, 7);
    assert_entry(log, WB, 1, 8);
    cr_assert_eq(weir_room_log_next_seq(log, WB), 9);
    assert_entry(log, CHAT, 0, 1);
    weir_room_log_destroy(log);
}

Test(room_log, chat_keeps_its_cap_in_memory_and_on_replay)
{
    weir_room_log_config cfg = config();
    cfg.max_entries[CHAT] = 5;
    cfg.compact_ratio = 0; /* keep the whole file, so the replay itself applies the cap */
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 40; s++)
        cr_assert_eq(append_n(log, CHAT, s), 0);
    cr_assert_eq(weir_room_log_count(log, CHAT), 5);
    assert_entry(log, CHAT, 0, 36);
    weir_room_log_destroy(log);

    cfg.max_entries[CHAT] = 3; /* a smaller cap from a new config */
    weir_room_log_replay r;
    log = open_log(&cfg, &r);
    cr_assert_eq(r.records, 40);
    cr_assert_eq(weir_room_log_count(log, CHAT), 3);
    for (size_t i = 0; i < 3; i++)
        assert_entry(log, CHAT, i, 38 + i);
    cr_assert_eq(weir_room_log_next_seq(log, CHAT), 41);
    weir_room_log_destroy(log);
}

Test(room_log, compaction_keeps_exactly_the_live_records_and_seq_continues)
{
    weir_room_log_config cfg = config();
    cfg.max_entries[CHAT] = 10;
    cfg.compact_min_bytes = 1024;
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 30; s++)
        cr_assert_eq(append_n(log, WB, s), 0);
    cr_assert_eq(weir_room_log_clear(log, WB, 31, 31 * MS), 0);
    cr_assert_eq(append_n(log, WB, 32), 0);
    for (uint64_t s = 1; s <= 100; s++)
        cr_assert_eq(append_n(log, CHAT, s), 0);
    uint64_t before = weir_room_log_file_bytes(log);
    cr_assert_gt(before, 2 * weir_room_log_live_bytes(log));

    cr_assert_eq(weir_room_log_tick(log, 200 * MS), 0);
    cr_assert_eq(weir_room_log_file_bytes(log), weir_room_log_live_bytes(log));
    cr_assert_eq(file_size(path), (off_t)weir_room_log_live_bytes(log));
    cr_assert_eq(append_n(log, CHAT, 101), 0, "appends go to the new file");
    weir_room_log_destroy(log);

    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(access(tmp, F_OK), -1, "no snapshot left behind");

    weir_room_log_replay r;
    log = open_log(&cfg, &r);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_END);
    cr_assert_eq(r.records, 2 + 1 + 10 + 1, "two BASEs, the live records, the new one");
    cr_assert_eq(weir_room_log_count(log, WB), 1);
    assert_entry(log, WB, 0, 32);
    cr_assert_eq(weir_room_log_next_seq(log, WB), 33);
    cr_assert_eq(weir_room_log_count(log, CHAT), 10);
    for (size_t i = 0; i < 10; i++)
        assert_entry(log, CHAT, i, 92 + i);
    cr_assert_eq(weir_room_log_next_seq(log, CHAT), 102);
    weir_room_log_destroy(log);
}

Test(room_log, compaction_of_an_emptied_log_keeps_next_seq)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 9; s++)
        cr_assert_eq(append_n(log, WB, s), 0);
    cr_assert_eq(weir_room_log_clear(log, WB, 10, 0), 0);
    cr_assert_eq(weir_room_log_compact(log), 0);
    cr_assert_eq(weir_room_log_file_bytes(log),
                 WEIR_ROOM_LOG_HEADER_LEN + WEIR_ROOM_LOG_KINDS * WEIR_ROOM_LOG_BASE_LEN);
    weir_room_log_destroy(log);
    log = open_log(&cfg, NULL);
    cr_assert_eq(weir_room_log_count(log, WB), 0);
    cr_assert_eq(weir_room_log_next_seq(log, WB), 11);
    cr_assert_eq(weir_room_log_next_seq(log, CHAT), WEIR_ROOM_LOG_FIRST_SEQ);
    weir_room_log_destroy(log);
}

Test(room_log, open_compacts_a_file_already_over_the_threshold)
{
    weir_room_log_config cfg = config();
    cfg.compact_ratio = 0;
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 3000; s++)
        cr_assert_eq(append_n(log, WB, s), 0);
    cr_assert_eq(weir_room_log_clear(log, WB, 3001, 0), 0);
    weir_room_log_destroy(log);
    off_t big = file_size(path);

    cfg.compact_ratio = 2;
    log = open_log(&cfg, NULL);
    cr_assert_lt(file_size(path), big / 100);
    cr_assert_eq(weir_room_log_next_seq(log, WB), 3002);
    weir_room_log_destroy(log);
}

Test(room_log, fsync_schedule)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    cr_assert_eq(weir_room_log_next_timeout(log), INT64_MAX);
    cr_assert_eq(append_n(log, WB, 1), 0); /* at 1 ms */
    cr_assert_eq(weir_room_log_next_timeout(log), 51 * MS);
    cr_assert_eq(append_n(log, WB, 2), 0);
    cr_assert_eq(weir_room_log_next_timeout(log), 51 * MS, "the first pending append sets it");
    cr_assert_eq(weir_room_log_tick(log, 50 * MS), 0);
    cr_assert_eq(weir_room_log_next_timeout(log), 51 * MS);
    cr_assert_eq(weir_room_log_tick(log, 10 * MS), 0, "time going back is the last time");
    cr_assert_eq(weir_room_log_next_timeout(log), 51 * MS);
    cr_assert_eq(weir_room_log_tick(log, 51 * MS), 0);
    cr_assert_eq(weir_room_log_next_timeout(log), INT64_MAX);
    weir_room_log_destroy(log);

    cfg.fsync_interval_ms = 0;
    log = open_log(&cfg, NULL);
    cr_assert_eq(append_n(log, WB, 3), 0);
    cr_assert_eq(weir_room_log_next_timeout(log), INT64_MAX, "synced in the append");
    weir_room_log_destroy(log);
}

Test(room_log, bad_appends_change_nothing)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    cr_assert_eq(append_n(log, WB, 5), 0);
    uint64_t size = weir_room_log_file_bytes(log);
    char big_from[WEIR_ROOM_LOG_FROM_MAX + 1];
    memset(big_from, 'a', sizeof big_from);
    static uint8_t big_data[WEIR_ROOM_LOG_DATA_MAX + 1];
    const struct {
        const char *name;
        weir_room_log_kind kind;
        weir_room_log_entry e;
        int rc;
    } rows[] = {
        {"seq reused", WB, {.seq = 5}, -WEIR_EINVAL},
        {"seq backwards", WB, {.seq = 4}, -WEIR_EINVAL},
        {"seq max", WB, {.seq = UINT64_MAX}, -WEIR_EINVAL},
        {"kind", (weir_room_log_kind)2, {.seq = 9}, -WEIR_EINVAL},
        {"NUL in from", WB, {.seq = 9, .from = "a\0b", .from_len = 3}, -WEIR_EINVAL},
        {"from NULL", WB, {.seq = 9, .from_len = 3}, -WEIR_EINVAL},
        {"from too long",
         WB,
         {.seq = 9, .from = big_from, .from_len = sizeof big_from},
         -WEIR_ETOOBIG},
        {"data too big",
         WB,
         {.seq = 9, .data = big_data, .data_len = sizeof big_data},
         -WEIR_ETOOBIG},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cr_assert_eq(weir_room_log_append(log, rows[i].kind, &rows[i].e, 0), rows[i].rc, "%s",
                     rows[i].name);
        cr_assert_eq(weir_room_log_file_bytes(log), size, "%s", rows[i].name);
        cr_assert_eq(weir_room_log_count(log, WB), 1, "%s", rows[i].name);
    }
    weir_room_log_entry max = {.seq = 6, .data = big_data, .data_len = WEIR_ROOM_LOG_DATA_MAX};
    cr_assert_eq(weir_room_log_append(log, WB, &max, 0), 0, "the largest message fits");
    weir_room_log_destroy(log);
    log = open_log(&cfg, NULL);
    cr_assert_eq(weir_room_log_count(log, WB), 2);
    cr_assert_eq(weir_room_log_at(log, WB, 1)->data_len, WEIR_ROOM_LOG_DATA_MAX);
    weir_room_log_destroy(log);
}

static void write_file(const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

Test(room_log, foreign_and_newer_files_are_refused_and_left_alone)
{
    weir_room_log_config cfg = config();
    static const struct {
        const char *bytes;
        size_t len;
        int rc;
    } rows[] = {
        {"hello world, not a log", 22, -WEIR_EINVAL},
        {"WEIRLOG\x02....", 12, -WEIR_EUNSUPPORTED},
        {"WEIRLOG\x00", 8, -WEIR_EINVAL},
        {"WEIX", 4, -WEIR_EINVAL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        write_file(rows[i].bytes, rows[i].len);
        int err = 0;
        cr_assert_null(weir_room_log_create(&cfg, "room1", 0, NULL, &err));
        cr_assert_eq(err, rows[i].rc, "row %zu: %d", i, err);
        cr_assert_eq(file_size(path), (off_t)rows[i].len, "row %zu untouched", i);
    }
}

Test(room_log, torn_header_is_a_new_log)
{
    weir_room_log_config cfg = config();
    write_file("WEIR", 4);
    weir_room_log_replay r;
    weir_room_log *log = open_log(&cfg, &r);
    cr_assert_eq(r.stop, WEIR_ROOM_LOG_STOP_TORN);
    cr_assert_eq(r.dropped_bytes, 4);
    cr_assert_eq(file_size(path), WEIR_ROOM_LOG_HEADER_LEN);
    cr_assert_eq(append_n(log, WB, 1), 0);
    weir_room_log_destroy(log);
    log = open_log(&cfg, NULL);
    assert_entry(log, WB, 0, 1);
    weir_room_log_destroy(log);
}

Test(room_log, one_writer_per_file)
{
    weir_room_log_config cfg = config();
    weir_room_log *log = open_log(&cfg, NULL);
    int err = 0;
    cr_assert_null(weir_room_log_create(&cfg, "room1", 0, NULL, &err));
    cr_assert_eq(err, -WEIR_EEXIST);
    cr_assert_eq(weir_room_log_compact(log), 0);
    cr_assert_null(weir_room_log_create(&cfg, "room1", 0, NULL, &err), "the new file is locked");
    weir_room_log_destroy(log);
    log = open_log(&cfg, NULL);
    weir_room_log_destroy(log);
}

Test(room_log, room_ids_become_safe_file_names)
{
    weir_room_log_config cfg = config();
    int err = 0;
    weir_room_log *log = weir_room_log_create(&cfg, "../Math 101/é", 0, NULL, &err);
    cr_assert(log, "%s", weir_strerror(err));
    weir_room_log_destroy(log);
    char p[300];
    snprintf(p, sizeof p, "%s/%%2E%%2E%%2FMath%%20101%%2F%%C3%%A9.wlog", dir);
    cr_assert_eq(access(p, F_OK), 0, "%s", p);

    char long_id[66];
    memset(long_id, 'x', 65);
    long_id[65] = '\0';
    cr_assert_null(weir_room_log_create(&cfg, long_id, 0, NULL, &err));
    cr_assert_eq(err, -WEIR_ETOOBIG);
    cr_assert_null(weir_room_log_create(&cfg, "", 0, NULL, &err));
    cr_assert_eq(err, -WEIR_EINVAL);
    cfg.dir = "/nonexistent/weir";
    cr_assert_null(weir_room_log_create(&cfg, "room1", 0, NULL, &err));
    cr_assert_lt(err, 0);
}

Test(room_log, leftover_snapshot_is_removed_at_open)
{
    weir_room_log_config cfg = config();
    three_records(&cfg);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    cr_assert(f);
    fputs("half a snapshot", f);
    fclose(f);
    weir_room_log *log = open_log(&cfg, NULL);
    cr_assert_eq(access(tmp, F_OK), -1);
    cr_assert_eq(weir_room_log_count(log, WB), 3);
    weir_room_log_destroy(log);
}

Test(room_log, serialize_replays_to_the_same_history)
{
    uint32_t max[WEIR_ROOM_LOG_KINDS] = {0, 4};
    weir_room_log_history *h = weir_room_log_history_create(max);
    for (uint64_t s = 3; s < 20; s++) {
        weir_room_log_entry e = {.seq = s, .ts_ms = -(int64_t)s, .from = "x", .from_len = 1};
        cr_assert_eq(weir_room_log_history_push(h, s % 2 ? WB : CHAT, &e), 0);
    }
    size_t n = weir_room_log_history_serialize(h, NULL, 0);
    uint8_t *buf = malloc(n);
    cr_assert_eq(weir_room_log_history_serialize(h, buf, n), n);

    weir_room_log_history *h2 = weir_room_log_history_create(max);
    weir_room_log_replay r;
    cr_assert_eq(weir_room_log_history_replay(h2, buf, n, &r), 0);
    cr_assert_eq(r.accepted_bytes, n);
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++) {
        cr_assert_eq(weir_room_log_history_count(h2, k), weir_room_log_history_count(h, k));
        cr_assert_eq(weir_room_log_history_next_seq(h2, k), weir_room_log_history_next_seq(h, k));
        for (size_t i = 0; i < weir_room_log_history_count(h, k); i++) {
            cr_assert_eq(weir_room_log_history_at(h2, k, i)->seq,
                         weir_room_log_history_at(h, k, i)->seq);
            cr_assert_eq(weir_room_log_history_at(h2, k, i)->ts_ms,
                         weir_room_log_history_at(h, k, i)->ts_ms);
        }
    }
    cr_assert_eq(weir_room_log_history_count(h2, CHAT), 4);
    free(buf);
    weir_room_log_history_destroy(h);
    weir_room_log_history_destroy(h2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Printed, never asserted (STYLE.md: timing is measured, not tested); see benchmarks/. */
Test(room_log, replay_of_100k_records_is_printed)
{
    weir_room_log_config cfg = config();
    cfg.fsync_interval_ms = 1000000; /* measure the format, not the disk */
    weir_room_log *log = open_log(&cfg, NULL);
    for (uint64_t s = 1; s <= 100000; s++)
        cr_assert_eq(append_n(log, WB, s), 0);
    weir_room_log_destroy(log);
    double t0 = now_s();
    weir_room_log_replay r;
    log = open_log(&cfg, &r);
    double dt = now_s() - t0;
    cr_assert_eq(r.records, 100000);
    assert_entry(log, WB, 99999, 100000);
    fprintf(stderr, "room_log: replay of %llu records (%lld bytes) took %.1f ms\n",
            (unsigned long long)r.records, (long long)file_size(path), dt * 1e3);
    weir_room_log_destroy(log);
}
