#!/usr/bin/env node
// The classroom whiteboard and chat in real Chromium pages against a running
// Weir server (tests/integration/test_browser_whiteboard.py runs this inside
// a private network namespace; the pages are GET / from Weir's web_root).
//
//   node tests/browser/whiteboard.mjs --url http://127.0.0.1:8088 --room R
//        [--shots DIR] [--chromium /usr/bin/chromium] [--timeout-scale 1]
//        [--skip step,step]
//
// One Chromium, two contexts: `granted` (camera and microphone allowed, the
// fake devices) and `denied` (no permission: getUserMedia fails with
// NotAllowedError, as when a user clicks "Block"). Pages join through the
// join form and draw with the mouse on the board; what each page received is
// read from window.classroom (the stamped ops each board drew, a hash of its
// bitmap, the chat panel's messages). Steps, each recording ok/error and its
// figures (a failed step does not stop the later ones):
//
//   join           A (teacher, camera) and B (student, no camera: a publisher
//                  PC with data channels only) join; both channels open
//   draw           B draws a stroke, A pen strokes in two colours, a rectangle
//                  and an eraser stroke: both boards hold the same stamped ops
//                  (seq, from, data) and the same bitmap
//   chat           A and B write; both panels list the same messages
//   relay          A and B open a `cursor` channel: what A sends (text and
//                  binary) reaches B as sent, and A gets nothing back
//   camera_later   B starts its camera (a renegotiating `publish`): A plays
//                  B's video, B's channels stay open (no reopen), A's next
//                  stroke reaches B
//   screen_share   A shares a canvas as its screen, draws, stops sharing, draws:
//                  B receives both strokes, nobody's channels reopen
//   late_joiner    C (student, no camera) joins: its board and chat replay the
//                  full history, equal to A's and B's
//   student_clear  B sends {"op":"clear"}: refused (403 shown on B's page),
//                  every board keeps its ops
//   teacher_clear  A presses Clear board: every board is empty; C leaves
//   rejoin         A draws after the clear; B's WebSocket is dropped, weir.js
//                  rejoins and reopens the channels: B's board is rebuilt from
//                  the history (only what came after the clear)
//   observer       E (observer) joins: replays the board; its write is refused
//                  with 403 (shown on its page); then E leaves
//   denied_camera  D (student, camera and microphone denied) joins with the
//                  camera box ticked: a clear message, the board and chat
//                  work; D draws and A sees it
//   idle           nobody writes for 20 s (WEIR_WB_IDLE_MS): D, with data
//                  channels only, is still in the room and receives A's stroke
// stdout: JSON lines, the last {"event":"result", ...}; progress on stderr.

import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_FLAGS, captureConsole, chromiumVersion, createHarness } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'package.json'));
const { chromium } = require('playwright-core');

function parseArgs(argv) {
    const a = { room: `wb-${process.pid}`, chromium: '/usr/bin/chromium', timeoutScale: 1,
        skip: [] };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => argv[++i];
        if (k === '--url') a.url = v();
        else if (k === '--room') a.room = v();
        else if (k === '--shots') a.shots = v();
        else if (k === '--chromium') a.chromium = v();
        else if (k === '--timeout-scale') a.timeoutScale = Number(v());
        else if (k === '--skip') a.skip = v().split(',');
        else throw new Error(`unknown argument ${k}`);
    }
    if (!a.url) throw new Error('--url is required');
    return a;
}

const args = parseArgs(process.argv);
// Permissions are given per context (grantPermissions), not by the fake UI,
// so that one context can be denied. Background pages keep running at full rate.
const FLAGS = [...CHROMIUM_FLAGS.filter((f) => f !== '--use-fake-ui-for-media-stream'),
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    // A page without camera permission offers mDNS names (xxx.local) instead
    // of its host addresses; in the loopback-only namespace it then gathers no
    // candidate at all and never connects, so the hiding is turned off here.
    // (Not covered: a real network, where libnice, which resolves no .local
    // name, must rely on peer-reflexive candidates learnt from the checks.)
    '--disable-features=WebRtcHideLocalIpsWithMdns'];

const result = { event: 'result', chromium: null, steps: {}, figures: {}, pages: {}, shots: [] };
const harness = createHarness('wb', args.timeoutScale, result);
const { T, elapsed, log, emit, sleep, until } = harness;
// Steps named in --skip do not run (their tests skip on the pytest side).
const step = (name, fn) => (args.skip.includes(name) ? log(`step ${name}: skipped`) :
    harness.step(name, fn));
result.chromium = chromiumVersion(args.chromium);

const browser = await chromium.launch({ executablePath: args.chromium, headless: true,
    args: FLAGS });
const origin = new URL(args.url).origin;
const granted = await browser.newContext({ viewport: { width: 1280, height: 800 } });
await granted.grantPermissions(['camera', 'microphone'], { origin });
const denied = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const pages = {};
const consoleLines = {};

async function openClass(name, context) {
    const page = await context.newPage();
    consoleLines[name] = [];
    captureConsole(page, consoleLines[name]);
    page.on('dialog', (d) => d.accept()); // "Clear the board for everyone?"
    await page.goto(`${args.url}/`);
    await page.waitForSelector('#join-form', { timeout: T(10000) });
    pages[name] = page;
    return page;
}

async function joinClass(name, context, display, role, withMedia) {
    const p = await openClass(name, context);
    await p.fill('#room', args.room);
    await p.fill('#name', display);
    await p.selectOption('#role', role);
    await p.setChecked('#with-media', withMedia);
    await p.click('#join-button');
    await p.waitForSelector('#classroom:not([hidden])', { timeout: T(10000) });
    return p;
}

const call = (name, fn, arg) => pages[name].evaluate(fn, arg);

// What one page's whiteboard and chat hold now.
function stateOf(name) {
    return call(name, () => {
        const c = window.classroom;
        const wb = c.client ? c.client.whiteboard : null;
        const status = document.querySelector('#board-status');
        return {
            participant: c.client && c.client.participant ? c.client.participant.id : null,
            pcs: c.client ? { publisher: c.client.publisher && c.client.publisher.connectionState,
                subscriber: c.client.subscriber && c.client.subscriber.connectionState } : null,
            wb: wb ? { state: wb.state, opens: wb.opens, lastSeq: wb.lastSeq } : null,
            chatState: c.client ? c.client.chat.state : null,
            ops: c.board.board.ops.map((m) => ({ seq: m.seq, from: m.from, data: m.data })),
            clearedAt: c.board.board.clearedAt,
            fp: c.board.board.fingerprint(),
            chat: c.board.chat.messages.map((m) => ({ seq: m.seq, from: m.from, text: m.text })),
            status: status.hidden ? '' : status.textContent,
            roomError: (() => {
                const e = document.querySelector('#room-error');
                return e.hidden ? '' : e.textContent;
            })(),
            errors: window.classroomErrors.slice(-20),
        };
    });
}

const opsKey = (ops) => JSON.stringify(ops);

// Waits until every page in names holds the same op list, of at least n ops
// (exactly n when exact), and the same bitmap; returns their states.
async function boardsAgree(what, names, n, exact = false) {
    return until(what, T(15000), async () => {
        const st = {};
        for (const x of names)
            st[x] = await stateOf(x);
        const first = st[names[0]];
        const same = names.every((x) => opsKey(st[x].ops) === opsKey(first.ops) &&
            st[x].fp.hash === first.fp.hash);
        const enough = exact ? first.ops.length === n : first.ops.length >= n;
        return { done: same && enough, st, counts: names.map((x) => [x, st[x].ops.length,
            st[x].fp.hash]) };
    }, 300);
}

// Mouse strokes on a page's board; points in 0..1 of the board.
async function drawStroke(name, pts, { stepsPer = 4, pause = 10 } = {}) {
    const page = pages[name];
    const box = await page.locator('#board-input').boundingBox();
    const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
    await page.mouse.move(...at(pts[0]));
    await page.mouse.down();
    for (const p of pts.slice(1)) {
        await page.mouse.move(...at(p), { steps: stepsPer });
        await sleep(pause); // spread the stroke over several 30 ms pieces
    }
    await page.mouse.up();
}

async function pickTool(name, tool, colour) {
    await pages[name].click(`.board-tools .tool[data-tool="${tool}"]`);
    if (colour)
        await pages[name].click(`#colours .swatch[data-colour="${colour}"]`);
}

async function shot(name, label) {
    if (!args.shots)
        return;
    const path = join(args.shots, `whiteboard-${label}.png`);
    await pages[name].screenshot({ path });
    result.shots.push(path);
}

const waitOpen = (name) => until(`${name}: whiteboard and chat open`, T(15000), async () => {
    const s = await stateOf(name);
    return { done: s.wb && s.wb.state === 'open' && s.chatState === 'open', s };
});

const increasing = (ops) => ops.every((m, i) => i === 0 || m.seq > ops[i - 1].seq);
const ids = {};

try {
    await step('join', async () => {
        const t0 = Date.now();
        await joinClass('A', granted, 'Ms Curie', 'teacher', true);
        await joinClass('B', granted, 'Ada', 'student', false);
        const a = await waitOpen('A');
        const b = await waitOpen('B');
        ids.A = a.s.participant;
        ids.B = b.s.participant;
        result.figures.channels_open_ms = Date.now() - t0;
        const pcB = await call('B', () => {
            const c = window.classroom.client;
            return { transceivers: c.publisher.getTransceivers().length,
                sdpMedia: (c.publisher.localDescription.sdp.match(/^m=\w+/gm) || []) };
        });
        return { A: ids.A, B: ids.B, B_publisher: pcB, camera_button_B: await call('B',
            () => document.querySelector('#btn-camera').textContent),
        placeholder_B_on_A: await call('A', (id) => {
            const t = document.querySelector(`.tile[data-key="${id}"] .placeholder`);
            return t && !t.hidden ? t.textContent : null;
        }, ids.B) };
    });

    await step('draw', async () => {
        const t0 = Date.now();
        await pickTool('B', 'pen', '#f0a020');
        await drawStroke('B', [[0.05, 0.95], [0.5, 0.6], [0.95, 0.95]]);
        await pickTool('A', 'pen', '#e5484d');
        await drawStroke('A', [[0.1, 0.2], [0.3, 0.25], [0.45, 0.5], [0.6, 0.45]]);
        log(`first stroke drawn in ${Date.now() - t0} ms`);
        await pickTool('A', 'pen', '#2f7fed');
        await drawStroke('A', [[0.15, 0.7], [0.35, 0.8], [0.55, 0.72], [0.8, 0.85]]);
        await pickTool('A', 'rect', '#2fbf71');
        await drawStroke('A', [[0.65, 0.12], [0.9, 0.4]], { stepsPer: 8 });
        await pickTool('A', 'eraser');
        await drawStroke('A', [[0.3, 0.1], [0.32, 0.9]]);
        log(`all strokes drawn in ${Date.now() - t0} ms`);
        const r = await boardsAgree('A and B hold the same ops and bitmap', ['A', 'B'], 6);
        // Stable: wait a little and check nothing else arrives.
        await sleep(500);
        const again = await boardsAgree('still the same', ['A', 'B'], r.st.A.ops.length, true);
        const ops = again.st.A.ops;
        result.figures.draw_ops = ops.length;
        result.figures.draw_ms = Date.now() - t0;
        await shot('A', 'teacher');
        await shot('B', 'student-no-camera');
        return {
            ops: ops.length, kinds: [...new Set(ops.map((m) => m.data.op))],
            from: { A: ops.filter((m) => m.from === ids.A).length,
                B: ops.filter((m) => m.from === ids.B).length },
            colours: [...new Set(ops.map((m) => m.data.c).filter(Boolean))],
            increasing: increasing(ops), fp: { A: again.st.A.fp, B: again.st.B.fp },
            first_op: ops[0], errors: { A: again.st.A.errors, B: again.st.B.errors },
        };
    });

    await step('chat', async () => {
        await pages.A.fill('#chat-input', 'Good morning, class');
        await pages.A.press('#chat-input', 'Enter');
        await until('B sees A\'s message', T(10000), async () => ({
            done: (await stateOf('B')).chat.length >= 1 }));
        await pages.B.fill('#chat-input', 'Morning! {"op":"clear"} <b>not bold</b>');
        await pages.B.click('#chat-form button');
        const r = await until('both panels list two messages', T(10000), async () => {
            const a = await stateOf('A');
            const b = await stateOf('B');
            return { done: a.chat.length === 2 && JSON.stringify(a.chat) === JSON.stringify(b.chat),
                a: a.chat, b: b.chat };
        });
        const shown = await call('A', () => [...document.querySelectorAll('#chat-list li')].map(
            (li) => ({ who: li.querySelector('.who').textContent,
                text: li.querySelector('.text').textContent,
                html: li.querySelector('.text').innerHTML })));
        return { messages: r.a, shown_A: shown };
    });

    await step('relay', async () => {
        // Any other label: relayed as sent (text stays text, binary stays
        // binary) to the others with the label open; no echo, no stamp.
        for (const n of ['A', 'B'])
            await call(n, async () => {
                window.wbRelay = [];
                const ch = window.classroom.client.channel('cursor');
                ch.on((m) => window.wbRelay.push({ binary: m.binary,
                    data: m.binary ? [...new Uint8Array(m.data)] : m.data }));
                await window.classroom.client.openChannels(['cursor']);
                await ch.whenOpen(10000);
            });
        await call('A', () => {
            const ch = window.classroom.client.channel('cursor');
            ch.send('{"x":0.25,"y":0.75}');
            ch.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
            ch.send('plain text');
        });
        const r = await until('B receives what A sent on "cursor"', T(10000), async () => {
            const got = await call('B', () => window.wbRelay);
            return { done: got.length >= 3, got };
        });
        await sleep(300);
        return { B: r.got, A: await call('A', () => window.wbRelay),
            offers_A: await call('A', () => (window.classroom.client.publisher.localDescription.sdp
                .match(/^m=\w+/gm) || [])) };
    });

    await step('camera_later', async () => {
        const before = await stateOf('B');
        await pages.B.click('#btn-camera'); // "Start camera"
        const video = await until('A plays B\'s camera', T(20000), async () => {
            const v = await call('A', (id) => {
                const t = document.querySelector(`.tile[data-key="${id}"] video`);
                return t ? { readyState: t.readyState, videoWidth: t.videoWidth,
                    currentTime: t.currentTime } : null;
            }, ids.B);
            return { done: v && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0.3, v };
        }, 500);
        const n = (await stateOf('A')).ops.length;
        await pickTool('A', 'pen', '#1d2330');
        await drawStroke('A', [[0.4, 0.3], [0.5, 0.35], [0.6, 0.3]]);
        const r = await boardsAgree('B receives A\'s stroke after its renegotiation', ['A', 'B'],
            n + 1);
        const pcB = await call('B', () => (window.classroom.client.publisher.localDescription.sdp
            .match(/^m=\w+/gm) || []));
        return { opens_before: before.wb.opens, opens_after: r.st.B.wb.opens, video: video.v,
            ops: r.st.B.ops.length, B_sdp_media: pcB, camera_button_B: await call('B',
                () => document.querySelector('#btn-camera').textContent) };
    });

    await step('screen_share', async () => {
        // A shares a "screen" (a canvas, as getDisplayMedia needs a picker) and
        // stops: two more renegotiations of A's publisher PC, channels untouched.
        const before = await stateOf('A');
        const mids = await call('A', async () => {
            const canvas = document.createElement('canvas');
            canvas.width = 640;
            canvas.height = 360;
            const g = canvas.getContext('2d');
            let f = 0;
            window.wbScreenTimer = setInterval(() => {
                g.fillStyle = `hsl(${(f++ * 7) % 360} 60% 50%)`;
                g.fillRect(0, 0, 640, 360);
            }, 100);
            const res = await window.classroom.client.publishScreen(canvas.captureStream(10));
            window.wbScreen = res.transceivers;
            return window.classroom.client.publishedTracks().map((t) => `${t.source}:${t.mid}`);
        });
        let n = before.ops.length;
        await drawStroke('A', [[0.3, 0.6], [0.4, 0.65]]);
        await boardsAgree('B receives a stroke drawn while A shares', ['A', 'B'], n + 1);
        await call('A', async () => {
            clearInterval(window.wbScreenTimer);
            await window.classroom.client.unpublish(window.wbScreen);
        });
        n = (await stateOf('A')).ops.length;
        await drawStroke('A', [[0.5, 0.6], [0.6, 0.65]]);
        const r = await boardsAgree('B receives a stroke after the share ended', ['A', 'B'], n + 1);
        return { published_while_sharing: mids, opens: { A: r.st.A.wb.opens, B: r.st.B.wb.opens },
            ops: r.st.A.ops.length };
    });

    await step('late_joiner', async () => {
        const t0 = Date.now();
        await joinClass('C', granted, 'Lin', 'student', false);
        const a = await stateOf('A');
        const r = await boardsAgree('C replays the whole board', ['A', 'B', 'C'], a.ops.length,
            true);
        result.figures.late_joiner_replay_ms = Date.now() - t0;
        const chat = await until('C replays the chat', T(10000), async () => {
            const c = await stateOf('C');
            return { done: c.chat.length === a.chat.length, c: c.chat };
        });
        await shot('C', 'student-late');
        return { ops: r.st.C.ops.length, same_as_A: opsKey(r.st.C.ops) === opsKey(r.st.A.ops),
            fp: r.st.C.fp, chat_C: chat.c, chat_A: a.chat };
    });

    await step('student_clear', async () => {
        const before = await stateOf('A');
        const hidden = await call('B', () => document.querySelector('#btn-clear').hidden);
        await call('B', () => window.classroom.board.send({ op: 'clear' }));
        const r = await until('B shows the refusal', T(10000), async () => {
            const b = await stateOf('B');
            return { done: /403/.test(b.status), status: b.status };
        });
        await shot('B', 'student-clear-refused');
        await sleep(700);
        const st = {};
        for (const n of ['A', 'B', 'C'])
            st[n] = await stateOf(n);
        return { clear_button_hidden_for_student: hidden, status: r.status,
            ops_before: before.ops.length,
            ops_after: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.ops.length])),
            cleared: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.clearedAt])),
            same: ['B', 'C'].every((n) => opsKey(st[n].ops) === opsKey(st.A.ops)) };
    });

    await step('teacher_clear', async () => {
        const visible = await call('A', () => !document.querySelector('#btn-clear').hidden);
        await pages.A.click('#btn-clear');
        const r = await until('every board is empty', T(10000), async () => {
            const st = {};
            for (const n of ['A', 'B', 'C'])
                st[n] = await stateOf(n);
            return { done: Object.values(st).every((s) => s.ops.length === 0 && s.clearedAt > 0 &&
                s.fp.inked === 0), st: Object.fromEntries(Object.entries(st).map(([k, v]) =>
                [k, { ops: v.ops.length, clearedAt: v.clearedAt, inked: v.fp.inked }])) };
        });
        return { clear_button_visible_for_teacher: visible, boards: r.st };
    });

    // Fewer pages decoding video from here on.
    if (pages.C) {
        await pages.C.close();
        delete pages.C;
    }

    await step('rejoin', async () => {
        await pickTool('A', 'pen', '#2f7fed');
        await drawStroke('A', [[0.2, 0.5], [0.5, 0.2], [0.8, 0.5]]);
        const drawn = await boardsAgree('the stroke after the clear on A and B', ['A', 'B'], 1);
        const before = await stateOf('B');
        const t0 = Date.now();
        await call('B', () => window.classroom.client.ws.close());
        const r = await until('B rejoined and reopened its whiteboard', T(20000), async () => {
            const b = await stateOf('B');
            return { done: b.participant !== before.participant && b.wb && b.wb.state === 'open' &&
                b.wb.opens === before.wb.opens + 1, b: { participant: b.participant, wb: b.wb } };
        });
        const again = await boardsAgree('B rebuilt the board from the history', ['A', 'B'],
            drawn.st.A.ops.length, true);
        result.figures.rejoin_rebuild_ms = Date.now() - t0;
        return { before: { participant: before.participant, opens: before.wb.opens },
            after: r.b, ops: again.st.B.ops.map((m) => m.seq),
            A_ops: again.st.A.ops.map((m) => m.seq),
            cleared_seen_after_rejoin: again.st.B.clearedAt, fp: again.st.B.fp };
    });

    await step('observer', async () => {
        await joinClass('E', granted, 'Inspector', 'observer', false);
        const a = await stateOf('A');
        const r = await boardsAgree('the observer replays the board', ['A', 'E'], a.ops.length,
            true);
        // An observer may watch, not write: the server answers 403 on the channel.
        await call('E', () => window.classroom.board.send({ op: 'line', pts: [[0, 0], [1, 1]] }));
        const refused = await until('E is told it may not draw', T(10000), async () => {
            const e = await stateOf('E');
            return { done: /403/.test(e.status), status: e.status };
        });
        await shot('E', 'observer');
        await sleep(500);
        const after = await stateOf('A');
        const out = { ops: r.st.E.ops.length, refused: refused.status,
            A_ops_after: after.ops.length, A_ops_before: r.st.A.ops.length,
            tools_hidden: await call('E', () => [...document.querySelectorAll(
                '.board-tools .tool-group')].every((g) => g.hidden)),
            chat_disabled: await call('E', () => document.querySelector('#chat-input').disabled) };
        return out;
    });
    if (pages.E) {
        await pages.E.close();
        delete pages.E;
    }

    await step('denied_camera', async () => {
        await joinClass('D', denied, 'Grace', 'student', true);
        const open = await waitOpen('D');
        const d0 = await stateOf('D');
        const n = (await stateOf('A')).ops.length;
        await drawStroke('D', [[0.7, 0.7], [0.8, 0.9], [0.9, 0.7]]);
        const r = await boardsAgree('A sees D\'s stroke, D\'s board matches', ['A', 'D'], n + 1);
        await pages.D.fill('#chat-input', 'I can\'t turn my camera on');
        await pages.D.press('#chat-input', 'Enter');
        const chat = await until('A reads D\'s chat message', T(10000), async () => {
            const a = await stateOf('A');
            return { done: a.chat.some((m) => m.from === open.s.participant), a: a.chat };
        });
        await shot('D', 'camera-denied');
        return { message: d0.roomError, camera_button: await call('D',
            () => document.querySelector('#btn-camera').textContent),
        from_D: r.st.A.ops.filter((m) => m.from === open.s.participant).length,
        fp_equal: r.st.A.fp.hash === r.st.D.fp.hash, chat_from_D: chat.a.filter(
            (m) => m.from === open.s.participant).map((m) => m.text) };
    });

    // A participant with data channels only sends nothing while nobody draws
    // (SCTP heartbeats come every 30 s): it must not be taken for gone.
    await step('idle', async () => {
        const before = await stateOf('D');
        const quiet = Number(process.env.WEIR_WB_IDLE_MS || 20000);
        log(`nobody writes for ${quiet} ms`);
        await sleep(quiet);
        const n = (await stateOf('A')).ops.length;
        await pickTool('A', 'pen', '#e5484d');
        await drawStroke('A', [[0.1, 0.1], [0.2, 0.15]]);
        const r = await boardsAgree('D, quiet for a while, still receives', ['A', 'D'], n + 1);
        return { quiet_ms: quiet, before: before.participant, after: r.st.D.participant,
            pcs: r.st.D.pcs, errors: r.st.D.errors };
    });
} finally {
    for (const [name, page] of Object.entries(pages)) {
        try {
            result.pages[name] = { errors: await page.evaluate(() => window.classroomErrors || []),
                console: consoleLines[name].slice(-40) };
        } catch (e) {
            result.pages[name] = { teardown_error: String(e.message) };
        }
    }
    await browser.close();
    result.figures.total_ms = elapsed();
    emit(result);
}
