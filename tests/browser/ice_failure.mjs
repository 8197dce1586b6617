#!/usr/bin/env node
// A browser whose media path fails (ICE consent lost, connectionState
// "failed") while its signalling stays up, and recovers by itself once the
// path is back. Driven by tests/integration/test_browser_ice_failure.py,
// which runs it inside a private network namespace and cuts the UDP there.
//
//   node tests/browser/ice_failure.mjs --url http://127.0.0.1:8088 --room R
//        [--chromium /usr/bin/chromium] [--timeout-scale 1]
//        [--min-outage-s 35] [--max-outage-s 50]
//
// One headless Chromium, two pages on the server's origin (page.html):
//   pub   publishes the fake camera (640x360, no simulcast) + microphone
//   sub   receives and decodes it
// Steps (each records ok/error and its figures; see harness.mjs):
//   flowing         sub decodes >= 30 video frames
//   short_outage    the driver prints {"event":"cut"} and waits for one line on
//                   stdin (the pytest side has dropped all UDP by then); it holds
//                   the cut until pub's publisher PC has reported "failed",
//                   sampling sub's decoded frames (none may get through)
//   short_recovery  the driver prints {"event":"restore"} and waits for a line
//                   again (UDP flows again); then, within 20 s, sub must decode
//                   >= 30 frames of pub's video and pub must emit `reconnected`
//                   with its publisher PC connected (here by an ICE restart:
//                   Weir has not timed anybody out yet)
//   outage          the same cut, held until "failed" and at least
//                   --min-outage-s (Weir times the pages out meanwhile)
//   recovery        as short_recovery (here by a rejoin)
// Each page's event log (connection states, reconnecting/reconnected, bye,
// participant_left...) goes into the result. stdout: JSON lines, the last
// {"event":"result", ...}; progress on stderr.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_FLAGS, captureConsole, chromiumVersion, createHarness } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, 'package.json'));
const { chromium } = require('playwright-core');

function parseArgs(argv) {
    const a = { room: `icefail-${process.pid}`, chromium: '/usr/bin/chromium', timeoutScale: 1,
        minOutageS: 35, maxOutageS: 50 };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => argv[++i];
        if (k === '--url') a.url = v();
        else if (k === '--room') a.room = v();
        else if (k === '--chromium') a.chromium = v();
        else if (k === '--timeout-scale') a.timeoutScale = Number(v());
        else if (k === '--min-outage-s') a.minOutageS = Number(v());
        else if (k === '--max-outage-s') a.maxOutageS = Number(v());
        else throw new Error(`unknown argument ${k}`);
    }
    if (!a.url) throw new Error('--url is required');
    return a;
}

const args = parseArgs(process.argv);
// Background pages must keep decoding at full rate.
const FLAGS = [...CHROMIUM_FLAGS, '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

const result = { event: 'result', chromium: null, steps: {}, figures: {}, pages: {} };
const { T, elapsed, log, emit, sleep, fail, step, until } = createHarness('icefail',
    args.timeoutScale, result);
result.chromium = chromiumVersion(args.chromium);

// The pytest side answers each {"event": "cut"|"restore"} with one line once done.
const stdinLines = [];
const stdinWaiters = [];
const rl = createInterface({ input: process.stdin });
rl.on('line', (l) => (stdinWaiters.length ? stdinWaiters.shift()(l) : stdinLines.push(l)));
rl.on('close', () => stdinWaiters.splice(0).forEach((w) => w(null)));
function ask(event) {
    emit({ event });
    if (stdinLines.length)
        return Promise.resolve(stdinLines.shift());
    return new Promise((resolve) => stdinWaiters.push(resolve));
}

const profile = mkdtempSync(join(tmpdir(), 'weir-icefail-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium, headless: true, args: FLAGS,
    viewport: { width: 800, height: 600 },
});
const pages = {};
const consoleLines = {};

async function openPage(name) {
    const page = await context.newPage();
    consoleLines[name] = [];
    captureConsole(page, consoleLines[name]);
    await page.goto(`${args.url}/page.html`);
    await page.waitForFunction(() => window.weirTestReady === true, null,
        { timeout: T(10000) });
    pages[name] = page;
    return page;
}

const call = (name, fn, arg) => pages[name].evaluate(fn, arg);
const nowOf = (name) => call(name, () => window.weirTest.now());
const eventsOf = (name, since = 0) => call(name, (t) => window.weirTest.events(t), since);
const pcStates = (name) => call(name, () => window.weirTest.pcStates());

// sub's received video (weir.js getStats()), or null while it has none.
async function subVideo() {
    const s = await call('sub', () => window.weirTest.trackStats());
    return s.received.find((x) => x.kind === 'video') || null;
}

// Compact event log of a page for the result: type, time and the interesting fields.
async function eventLog(name) {
    const keep = ['connectionstatechange', 'reconnecting', 'reconnected', 'bye',
        'participant_left', 'participant_joined', 'track', 'trackremoved', 'error'];
    return (await eventsOf(name)).filter((e) => keep.includes(e.type)).map((e) => {
        const p = e.params || {};
        const brief = e.type === 'participant_left' || e.type === 'participant_joined' ?
            { id: p.participant && p.participant.id, reason: p.reason } : p;
        return { t: e.t, type: e.type, ...brief };
    });
}

// Asks the pytest side to cut UDP, holds the cut until pub's publisher PC has
// reported "failed" plus afterFailedMs and at least minMs have passed (at most
// --max-outage-s), sampling sub's decoded frames every second; then returns
// (the caller restores). Recorded as step `name`.
function outage(name, minMs, afterFailedMs) {
    return step(name, async () => {
        const since = { pub: await nowOf('pub'), sub: await nowOf('sub') };
        const v0 = await subVideo();
        if ((await ask('cut')) === null)
            throw fail('the pytest side went away before the cut');
        const cutAt = Date.now();
        log('UDP cut');
        const samples = [];
        let failedAfterMs = null;
        for (;;) {
            const s = Date.now() - cutAt;
            const ev = await eventsOf('pub', since.pub);
            const failed = ev.find((e) => e.type === 'connectionstatechange' &&
                e.params.pc === 'publisher' && e.params.state === 'failed');
            if (failed && failedAfterMs === null) {
                failedAfterMs = s;
                log(`pub's publisher PC reached "failed" ${s} ms after the cut`);
            }
            const v = await subVideo();
            samples.push({ ms: s, frames: v ? v.framesDecoded : null, track: v && v.trackId,
                pub: await pcStates('pub'), sub: await pcStates('sub') });
            if (s >= T(args.maxOutageS * 1000) ||
                (failedAfterMs !== null && s >= minMs && s >= failedAfterMs + afterFailedMs))
                break;
            await sleep(failedAfterMs === null ? 1000 : 250);
        }
        const outageMs = Date.now() - cutAt;
        const pubEvents = await eventsOf('pub', since.pub);
        const subEvents = await eventsOf('sub', since.sub);
        // Frames sub decoded from 3 s after the cut (the jitter buffer has drained)
        // to its end, over every video track it had meanwhile (a rejoin of either
        // page brings a new one, counted from 0).
        let framesDuringCut = 0;
        let prev = null;
        for (const x of samples.filter((y) => y.ms >= 3000)) {
            if (prev && x.frames !== null)
                framesDuringCut += x.track === prev.track ? x.frames - (prev.frames ?? 0) : x.frames;
            prev = x;
        }
        const states = (ev) => ev.filter((e) => e.type === 'connectionstatechange')
            .map((e) => `${e.params.pc}:${e.params.state}`);
        const out = { outage_ms: outageMs, failed_after_ms: failedAfterMs,
            frames_at_cut: v0 && v0.framesDecoded, samples, frames_during_cut: framesDuringCut,
            pub_states: states(pubEvents), sub_states: states(subEvents),
            pub_byes: pubEvents.filter((e) => e.type === 'bye').map((e) => e.params.reason),
            sub_byes: subEvents.filter((e) => e.type === 'bye').map((e) => e.params.reason),
            // What weir.js did about it, with the page's clock (ms), to order them.
            sub_recovery: subEvents.filter((e) => ['bye', 'reconnecting', 'reconnected']
                .includes(e.type)).map((e) => ({ t: e.t, type: e.type, ...e.params })) };
        if (failedAfterMs === null)
            throw fail('pub\'s publisher PC never reported "failed" during the cut', out);
        return out;
    });
}

// Asks the pytest side to restore UDP; then, within 20 s, sub must decode >= 30
// frames of pub's video and pub must emit `reconnected` with its publisher PC
// connected. Recorded as step `name`.
function recovery(name) {
    return step(name, async () => {
        const since = { pub: await nowOf('pub'), sub: await nowOf('sub') };
        const pubBefore = (await call('pub', () => window.weirTest.participant())).id;
        if ((await ask('restore')) === null)
            throw fail('the pytest side went away before the restore');
        const restoredAt = Date.now();
        log('UDP restored');
        // Frames of pub's video decoded from now on (a rejoin brings a new track at 0).
        const base = await subVideo();
        const baseTrack = base && base.trackId;
        const baseFrames = base ? base.framesDecoded : 0;
        let decodedMs = null;
        let reconnectedMs = null;
        const r = await until('pub reconnects and sub decodes pub\'s video again', T(20000),
            async () => {
                const v = await subVideo();
                const more = v ? (v.trackId === baseTrack ? v.framesDecoded - baseFrames :
                    v.framesDecoded) : 0;
                if (more >= 30 && v.width > 0 && decodedMs === null)
                    decodedMs = Date.now() - restoredAt;
                const ev = await eventsOf('pub', since.pub);
                const rec = ev.filter((e) => e.type === 'reconnected');
                const pc = await pcStates('pub');
                if (rec.length && pc.publisher === 'connected' && reconnectedMs === null)
                    reconnectedMs = Date.now() - restoredAt;
                return { done: decodedMs !== null && reconnectedMs !== null, v, more, rec, pc };
            }, 250);
        const subEvents = await eventsOf('sub', since.sub);
        return { decoded_after_ms: decodedMs, reconnected_after_ms: reconnectedMs,
            frames_more: r.more, video: r.v, reconnected: r.rec.map((e) => e.params),
            sub_reconnected: subEvents.filter((e) => e.type === 'reconnected')
                .map((e) => e.params),
            pcs: { pub: r.pc, sub: await pcStates('sub') },
            participants: { pub_before: pubBefore,
                pub: (await call('pub', () => window.weirTest.participant())).id,
                sub: (await call('sub', () => window.weirTest.participant())).id } };
    });
}

try {
    await step('flowing', async () => {
        await openPage('pub');
        await openPage('sub');
        const p = await call('pub', (a) => window.weirTest.start(a),
            { room: args.room, display: 'pub', role: 'teacher', publish: true, simulcast: false,
                width: 640, height: 360 });
        const s = await call('sub', (a) => window.weirTest.start(a),
            { room: args.room, display: 'sub', role: 'student' });
        const r = await until('sub decodes pub\'s video', T(20000), async () => {
            const v = await subVideo();
            return { done: v && v.framesDecoded >= 30 && v.width > 0, v };
        });
        return { pub: p.participant.id, sub: s.participant.id, video: r.v,
            pcs: { pub: await pcStates('pub'), sub: await pcStates('sub') } };
    });
    if (!result.steps.flowing.ok)
        throw fail('no media before the cut: nothing to recover');

    // Short cut: restored as soon as pub's publisher PC failed (15-19 s into the cut
    // here), before Weir times the pages out (~23 s with its defaults): weir.js
    // must come back by an ICE restart.
    await outage('short_outage', 0, 0);
    await recovery('short_recovery');
    // Long cut (--min-outage-s): Weir removes both pages meanwhile (`bye` timeout);
    // weir.js must rejoin and publish again once the path is back.
    await outage('outage', args.minOutageS * 1000, 0);
    await recovery('recovery');
} catch (e) {
    log(`stopped: ${e.message}`);
} finally {
    for (const [name, page] of Object.entries(pages)) {
        try {
            result.pages[name] = { events: await eventLog(name),
                errors: await call(name, () => window.weirTest.errors()),
                console: consoleLines[name].slice(-40) };
        } catch (e) {
            result.pages[name] = { teardown_error: String(e.message) };
        }
    }
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    rl.close();
    result.figures.total_ms = elapsed();
    emit(result);
}
