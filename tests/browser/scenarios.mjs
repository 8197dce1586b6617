#!/usr/bin/env node
// More real-browser scenarios against a running Weir server (see
// tests/integration/test_browser_scenarios.py, which runs this inside a
// private network namespace and serves page.html, weir.js and the classroom
// page from Weir's web_root).
//
//   node tests/browser/scenarios.mjs --url http://127.0.0.1:8088 --room R
//        [--wc-room R2] [--class-room R3] [--full-room R4] [--shots DIR]
//        [--chromium /usr/bin/chromium] [--timeout-scale 1]
//
// One headless Chromium, several pages; each step records ok/error and its
// figures, a failed step does not stop the later ones.
//
//   weir_client   (--wc-room) page `wc` publishes weir-client's test pattern
//                 (painted on a canvas, captureStream) + the fake microphone
//                 in the room where a weir-client (started by the pytest side)
//                 publishes and subscribes; the page decodes weir-client's
//                 VP8 and Opus. The page keeps publishing until the end, the
//                 pytest side checks weir-client's report.
//   receive       `teacher` publishes fake camera (simulcast) + microphone;
//                 `s1`, `s2` decode it
//   screen_add    the teacher adds a screen share mid-session: a canvas
//                 captureStream track published with weir.js publishScreen
//                 (source "screen", a renegotiating `publish`); the students
//                 hear track_published source "screen" and decode it
//   screen_remove the teacher unpublishes it (transceiver stopped, another
//                 `publish`): track_unpublished + trackremoved, the camera
//                 keeps decoding
//   rejoin        s2 leaves (teacher: participant_left) and joins again on the
//                 same socket (teacher: participant_joined); s2 decodes again
//   ws_drop       s2's WebSocket is closed under weir.js: it rejoins by itself
//                 (new participant id) and decodes again
//   stats         weir.js getStats() per track on s2 and the teacher
//   abrupt_close  s1's page is closed without leave: the teacher and s2 get
//                 participant_left for it, s2 keeps decoding
//   classroom     (--class-room) two classroom pages (GET /) join through the
//                 form, play each other, screenshots into --shots;
//                 (--full-room, a room for one) a third page sees "room is full"
// stdout: JSON lines, the last {"event":"result", ...}; progress on stderr.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_FLAGS, captureConsole, chromiumVersion, createHarness } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'package.json'));
const { chromium } = require('playwright-core');

function parseArgs(argv) {
    const a = { room: `scen-${process.pid}`, chromium: '/usr/bin/chromium', timeoutScale: 1 };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => argv[++i];
        if (k === '--url') a.url = v();
        else if (k === '--room') a.room = v();
        else if (k === '--wc-room') a.wcRoom = v();
        else if (k === '--class-room') a.classRoom = v();
        else if (k === '--full-room') a.fullRoom = v();
        else if (k === '--shots') a.shots = v();
        else if (k === '--chromium') a.chromium = v();
        else if (k === '--timeout-scale') a.timeoutScale = Number(v());
        else throw new Error(`unknown argument ${k}`);
    }
    if (!a.url) throw new Error('--url is required');
    return a;
}

const args = parseArgs(process.argv);
// Background pages must keep decoding and painting at full rate.
const SCENARIO_FLAGS = [...CHROMIUM_FLAGS, '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

const result = { event: 'result', chromium: null, steps: {}, figures: {}, pages: {}, shots: [] };

const { T, elapsed, log, emit, sleep, fail, step, until } = createHarness('scen', args.timeoutScale,
    result);
result.chromium = chromiumVersion(args.chromium);

const profile = mkdtempSync(join(tmpdir(), 'weir-scen-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium, headless: true, args: SCENARIO_FLAGS,
    viewport: { width: 1280, height: 800 },
});
const pages = {};
const consoleLines = {};

async function openPage(name, path = '/page.html', ready = () => window.weirTestReady === true) {
    const page = await context.newPage();
    consoleLines[name] = [];
    captureConsole(page, consoleLines[name]);
    await page.goto(`${args.url}${path}`);
    await page.waitForFunction(ready, null, { timeout: T(10000) });
    pages[name] = page;
    return page;
}

const call = (name, fn, arg) => pages[name].evaluate(fn, arg);
const stats = (name) => call(name, () => window.weirTest.trackStats());
const nowOf = (name) => call(name, () => window.weirTest.now());
const eventsOf = (name, since) => call(name, (t) => window.weirTest.events(t), since);

// The received-track entry of getStats() for one Weir track id (or predicate).
async function recv(name, pred) {
    const s = await stats(name);
    return s.received.find(pred) || null;
}

// Waits until `name` decodes `n` more frames of the track matching pred.
async function decodes(name, what, pred, n, timeoutMs, from = null) {
    const start = from ?? ((await recv(name, pred)) || { framesDecoded: 0 }).framesDecoded ?? 0;
    return until(`${name}: ${what} decodes ${n} frames`, timeoutMs, async () => {
        const r = await recv(name, pred);
        return { done: r && r.framesDecoded >= start + n && r.width > 0, r, start };
    });
}

let camId = null;
let teacherId = null;

try {
    // ------------------------------------------------ browser <-> weir-client
    if (args.wcRoom) {
        await step('weir_client', async () => {
            await openPage('wc');
            const s = await call('wc', (a) => window.weirTest.start(a),
                { room: args.wcRoom, display: 'browser', role: 'student', pattern: true,
                    width: 640, height: 360, fps: 30 });
            const r = await until('the page decodes weir-client video and audio', T(20000),
                async () => {
                    const st = await stats('wc');
                    const v = st.received.find((x) => x.kind === 'video');
                    const a = st.received.find((x) => x.kind === 'audio');
                    return { done: v && v.framesDecoded >= 60 && v.width > 0 && a &&
                        a.packetsReceived > 50, v, a, sent: st.sent };
                });
            result.figures.browser_decoded_weir_client = { frames: r.v.framesDecoded,
                size: [r.v.width, r.v.height], audio_packets: r.a.packetsReceived };
            return { participant: s.participant, join_tracks: s.tracks, video: r.v, audio: r.a,
                sent: r.sent, pattern_frames: await call('wc', () => window.weirTest.patternFrames()) };
        });
    }

    // ------------------------------------------------ teacher + two students
    await step('receive', async () => {
        await openPage('teacher');
        await openPage('s1');
        await openPage('s2');
        const t = await call('teacher', (a) => window.weirTest.start(a),
            { room: args.room, display: 'teacher', role: 'teacher', publish: true,
                width: 640, height: 360 });
        teacherId = t.participant.id;
        const s1 = await call('s1', (a) => window.weirTest.start(a),
            { room: args.room, display: 's1', role: 'student' });
        const s2 = await call('s2', (a) => window.weirTest.start(a),
            { room: args.room, display: 's2', role: 'student' });
        const out = { teacher: t.participant, s1: s1.participant, s2: s2.participant };
        for (const n of ['s1', 's2']) {
            const r = await decodes(n, 'camera', (x) => x.kind === 'video', 30, T(20000), 0);
            camId = r.r.trackId;
            out[n] = { ...out[n], video: r.r };
        }
        return out;
    });

    await step('screen_add', async () => {
        const since = { s1: await nowOf('s1'), s2: await nowOf('s2') };
        const started = Date.now();
        const add = await call('teacher', () => window.weirTest.addScreen({ width: 960, height: 540,
            fps: 15 }));
        const out = { teacher: add };
        for (const n of ['s1', 's2']) {
            const r = await until(`${n}: track_published source screen`, T(10000), async () => {
                const ev = await eventsOf(n, since[n]);
                const pub = ev.find((e) => e.type === 'track_published');
                const tr = ev.find((e) => e.type === 'track' && pub &&
                    e.params.trackId === pub.params.track.id);
                return { done: pub && tr, pub, tr };
            });
            const screenId = r.pub.params.track.id;
            const d = await decodes(n, 'screen', (x) => x.trackId === screenId, 20, T(15000), 0);
            const cam = await recv(n, (x) => x.trackId === camId);
            out[n] = { published: r.pub.params.track, track_event: r.tr.params, screen: d.r,
                camera_frames: cam && cam.framesDecoded, first_frames_ms: Date.now() - started };
        }
        result.figures.screen_share_decoded_ms = Math.max(out.s1.first_frames_ms, out.s2.first_frames_ms);
        return out;
    });

    await step('screen_remove', async () => {
        const screenId = result.steps.screen_add.ok ? result.steps.screen_add.s1.published.id : null;
        if (!screenId)
            throw fail('no screen share to remove');
        const since = { s1: await nowOf('s1'), s2: await nowOf('s2') };
        const rm = await call('teacher', () => window.weirTest.removeScreen());
        const out = { teacher: rm };
        for (const n of ['s1', 's2']) {
            const r = await until(`${n}: track_unpublished + trackremoved for the screen`, T(10000),
                async () => {
                    const ev = await eventsOf(n, since[n]);
                    const unpub = ev.filter((e) => e.type === 'track_unpublished')
                        .map((e) => e.params.track.id);
                    const removed = ev.filter((e) => e.type === 'trackremoved')
                        .map((e) => e.params.trackId);
                    return { done: unpub.includes(screenId) && removed.includes(screenId),
                        unpub, removed };
                });
            const cam = await decodes(n, 'camera after the screen went', (x) => x.trackId === camId,
                30, T(10000));
            const st = await stats(n);
            out[n] = { unpublished: r.unpub, removed: r.removed, camera: cam.r,
                still_received: st.received.map((x) => x.trackId),
                errors: await call(n, () => window.weirTest.errors()) };
        }
        return out;
    });

    await step('rejoin', async () => {
        const since = await nowOf('teacher');
        const before = await call('s2', () => window.weirTest.participant());
        await call('s2', () => window.weirTest.leaveRoom());
        const left = await until('teacher hears participant_left for s2', T(5000), async () => {
            const ev = await eventsOf('teacher', since);
            const e = ev.find((x) => x.type === 'participant_left' &&
                x.params.participant.id === before.id);
            return { done: !!e, e };
        });
        const again = await call('s2', (a) => window.weirTest.joinAgain(a),
            { room: args.room, display: 's2', role: 'student' });
        const joined = await until('teacher hears participant_joined for s2', T(5000), async () => {
            const ev = await eventsOf('teacher', since);
            const e = ev.find((x) => x.type === 'participant_joined' &&
                x.params.participant.id === again.participant.id);
            return { done: !!e, e };
        });
        const d = await decodes('s2', 'camera after rejoining', (x) => x.kind === 'video', 30,
            T(15000), 0);
        return { before: before.id, after: again.participant.id, left: left.e.params,
            joined: joined.e.params, join_tracks: again.tracks.map((t) => ({ id: t.id,
                kind: t.kind, source: t.source })), video: d.r };
    });

    await step('ws_drop', async () => {
        const since = await nowOf('s2');
        const before = await call('s2', () => window.weirTest.dropSocket());
        const r = await until('s2 rejoins by itself', T(10000), async () => {
            const ev = await eventsOf('s2', since);
            const e = ev.find((x) => x.type === 'reconnected');
            return { done: !!e, e, ev: ev.map((x) => x.type) };
        });
        const d = await decodes('s2', 'camera after the rejoin', (x) => x.kind === 'video', 30,
            T(15000), 0);
        const reconnecting = (await eventsOf('s2', since)).filter((x) => x.type === 'reconnecting');
        return { before, after: r.e.params.participant, how: r.e.params.how,
            reconnecting: reconnecting.map((x) => x.params), video: d.r };
    });

    await step('stats', async () => {
        await sleep(1000);
        await stats('s2'); // the first call only primes the bitrate
        await stats('teacher');
        await sleep(1000);
        const s = await stats('s2');
        const t = await stats('teacher');
        return { s2: s, teacher: t };
    });

    await step('abrupt_close', async () => {
        const idS1 = (await call('s1', () => window.weirTest.participant())).id;
        const since = { teacher: await nowOf('teacher'), s2: await nowOf('s2') };
        const closedAt = Date.now();
        await pages.s1.close(); // no leave, no clean shutdown of the page's peers
        delete pages.s1;
        const out = { s1: idS1 };
        for (const n of ['teacher', 's2']) {
            const r = await until(`${n} hears participant_left for s1`, T(10000), async () => {
                const ev = await eventsOf(n, since[n]);
                const e = ev.find((x) => x.type === 'participant_left' &&
                    x.params.participant.id === idS1);
                return { done: !!e, e };
            });
            out[n] = { left: r.e.params, after_ms: Date.now() - closedAt };
        }
        const d = await decodes('s2', 'camera after s1 vanished', (x) => x.kind === 'video', 30,
            T(10000));
        out.s2_video = d.r;
        out.s2_errors = await call('s2', () => window.weirTest.errors());
        return out;
    });

    // ------------------------------------------------ the classroom page
    if (args.classRoom) {
        await step('classroom', async () => {
            // Fewer pages decoding: the classroom pages get the CPU.
            for (const n of ['teacher', 's2', 'wc'])
                if (pages[n]) {
                    await pages[n].close();
                    delete pages[n];
                }
            const joinClass = async (name, display, role) => {
                await openPage(name, '/', () => !!document.querySelector('#join-form'));
                const p = pages[name];
                await p.fill('#room', args.classRoom);
                await p.fill('#name', display);
                await p.selectOption('#role', role);
                await p.click('#join-button');
                await p.waitForSelector('#classroom:not([hidden])', { timeout: T(10000) });
            };
            await joinClass('c_teacher', 'Ms Curie', 'teacher');
            await joinClass('c_student', 'Ada', 'student');
            const tiles = {};
            for (const n of ['c_teacher', 'c_student']) {
                const r = await until(`${n}: two tiles, the remote one plays with an overlay`,
                    T(20000), async () => {
                        const info = await call(n, () => [...document.querySelectorAll('.tile')]
                            .map((t) => {
                                const v = t.querySelector('video');
                                return {
                                    name: (t.querySelector('.name') || {}).textContent,
                                    local: t.classList.contains('local'),
                                    teacher: t.classList.contains('teacher'),
                                    w: t.getBoundingClientRect().width,
                                    video: v ? { readyState: v.readyState, videoWidth: v.videoWidth,
                                        currentTime: v.currentTime } : null,
                                    overlay: (t.querySelector('.overlay') || {}).textContent || '',
                                    badge: (t.querySelector('.badge') || {}).className || '',
                                };
                            }));
                        const remote = info.find((x) => !x.local);
                        return { done: info.length === 2 && remote && remote.video &&
                            remote.video.readyState >= 2 && remote.video.videoWidth > 0 &&
                            remote.video.currentTime > 0.5 && /kbps/.test(remote.overlay) &&
                            /layer/.test(remote.overlay) && /q-(good|fair|poor)/.test(remote.badge),
                        info };
                    }, 500);
                tiles[n] = r.info;
                log(`${n}: tiles ready`);
            }
            // Toggle the student's camera off and back on; mute the microphone.
            await pages.c_student.click('#btn-camera');
            const camOff = await call('c_student', () => document.querySelector('#btn-camera')
                .getAttribute('aria-pressed'));
            await pages.c_student.click('#btn-camera');
            await pages.c_student.click('#btn-mic');
            const micOff = await call('c_student', () => document.querySelector('#btn-mic')
                .getAttribute('aria-pressed'));
            // The mute reaches the room: the teacher's page marks the student's tile.
            const heard = await until('the teacher page shows the student muted', T(5000),
                async () => {
                    const shown = await call('c_teacher', () => [...document.querySelectorAll(
                        '.tile:not(.local) .mic-off')].some((m) => !m.hidden));
                    return { done: shown, shown };
                });
            if (args.shots) {
                for (const n of ['c_teacher', 'c_student']) {
                    const path = join(args.shots, `classroom-${n}.png`);
                    await pages[n].screenshot({ path });
                    result.shots.push(path);
                }
            }
            let full = null;
            if (args.fullRoom) {
                await openPage('c_full1', '/', () => !!document.querySelector('#join-form'));
                await openPage('c_full2', '/', () => !!document.querySelector('#join-form'));
                for (const n of ['c_full1', 'c_full2']) {
                    await pages[n].fill('#room', args.fullRoom);
                    await pages[n].fill('#name', n);
                    await pages[n].click('#join-button');
                    if (n === 'c_full1')
                        await pages[n].waitForSelector('#classroom:not([hidden])',
                            { timeout: T(10000) });
                }
                const r = await until('the second page says the room is full', T(10000), async () => {
                    const text = await call('c_full2', () =>
                        (document.querySelector('#join-error') || {}).textContent || '');
                    return { done: /full/i.test(text), text };
                });
                full = r.text;
                if (args.shots) {
                    const path = join(args.shots, 'classroom-room-full.png');
                    await pages.c_full2.screenshot({ path });
                    result.shots.push(path);
                }
            }
            return { tiles, camera_toggle_pressed: camOff, mic_pressed: micOff,
                mute_heard_by_teacher: heard.shown, room_full: full };
        });
    }
} finally {
    for (const [name, page] of Object.entries(pages)) {
        try {
            result.pages[name] = {
                errors: await page.evaluate(() => (window.weirTest ? window.weirTest.errors() :
                    (window.classroomErrors || []))),
                console: consoleLines[name].slice(-40),
            };
        } catch (e) {
            result.pages[name] = { teardown_error: String(e.message) };
        }
    }
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    result.figures.total_ms = elapsed();
    emit(result);
}
