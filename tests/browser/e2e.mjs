#!/usr/bin/env node
// Real-browser end-to-end scenario against a running Weir server.
//
//   node tests/browser/e2e.mjs --url http://127.0.0.1:8088 [--room R]
//        [--chromium /usr/bin/chromium] [--hold] [--timeout-scale 1]
//
// The server must serve tests/browser/page.html and web/weir.js from its
// web_root (tests/integration/test_browser.py sets that up), and must be
// reachable by Chromium's ICE on loopback only (see that file).
//
// One headless Chromium (Debian's, driven by playwright-core) opens three
// pages on the server's origin:
//   pub    joins as teacher, publishes fake-camera 1280x720 video with
//          simulcast q/h/f and fake-microphone audio;
//   sub1   joins before the publisher and receives both tracks;
//   sub2   joins late and must get the tracks in its join result and offer.
// Steps (each records ok/error and its figures; a failed step does not stop
// the later ones, so one run gathers all the evidence):
//   receive    sub1 decodes >= 150 video frames, its <video> plays, audio grows
//   top_layer  the publisher sends rid f at full size and sub1 receives it
//              (a sampler records both sides' stats every 500 ms from the
//              publish call on: result.timeline)
//   layers     set_preferences max_spatial 0 → layer_changed 0 and a frame at
//              most half as wide; 1 → layer_changed 1 and the middle size;
//              2 → layer_changed 2 and full size again
//   late       sub2 decodes >= 60 frames of both tracks
//   unpublish  (after the hold) pub leaves: sub1 and sub2 get track_unpublished,
//              a new offer, and weir.js reports both tracks removed
// With --hold the driver prints {"event":"hold"} once everything is up and
// waits for one line on stdin before leaving (the pytest side reads the
// admin API meanwhile). Progress goes to stderr; stdout carries JSON lines,
// the last being {"event":"result", ...}.

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
    const a = { room: `browser-${process.pid}`, chromium: '/usr/bin/chromium', hold: false,
        timeoutScale: 1 };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => argv[++i];
        if (k === '--url') a.url = v();
        else if (k === '--room') a.room = v();
        else if (k === '--chromium') a.chromium = v();
        else if (k === '--hold') a.hold = true;
        else if (k === '--timeout-scale') a.timeoutScale = Number(v());
        else throw new Error(`unknown argument ${k}`);
    }
    if (!a.url) throw new Error('--url is required');
    return a;
}

const args = parseArgs(process.argv);
const result = {
    event: 'result',
    room: args.room,
    chromium: null,
    steps: {},
    figures: {},
    timeline: [], // publisher/subscriber samples while waiting for the top layer
    pages: {},
};

const { T, elapsed, log, emit, sleep, fail, step, until } = createHarness('e2e', args.timeoutScale,
    result);
result.chromium = chromiumVersion(args.chromium);

const profile = mkdtempSync(join(tmpdir(), 'weir-e2e-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: true,
    args: CHROMIUM_FLAGS,
});
const pages = {};
const consoleLines = {};

async function openPage(name) {
    const page = await context.newPage();
    consoleLines[name] = [];
    captureConsole(page, consoleLines[name]);
    await page.goto(`${args.url}/page.html`);
    await page.waitForFunction(() => window.weirTestReady === true, null, { timeout: T(10000) });
    pages[name] = page;
    return page;
}

const call = (name, fn, arg) => pages[name].evaluate(fn, arg);
const inbound = (name) => call(name, () => window.weirTest.inbound());
const outbound = (name) => call(name, () => window.weirTest.outbound());

let tPublish = null;

// Samples the publisher's outbound and sub1's inbound stats every 500 ms into
// result.timeline, from the publish call on, until stopped.
function startSampler() {
    let stopped = false;
    const loop = (async () => {
        while (!stopped && result.timeline.length < 600) {
            try {
                const o = await outbound('pub');
                const i = pages.sub1 ? await inbound('sub1') : { video: null };
                result.timeline.push({
                    t: elapsed() - tPublish,
                    aob: o.availableOutgoingBitrate,
                    rids: Object.fromEntries(Object.entries(o.rids).map(([rid, x]) => [rid, {
                        w: x.frameWidth, h: x.frameHeight, bytes: x.bytesSent,
                        fps: x.framesPerSecond, target: x.targetBitrate,
                        qlr: x.qualityLimitationReason }])),
                    recv: i.video ? [i.video.frameWidth, i.video.frameHeight] : null,
                    dec: i.video ? i.video.framesDecoded : null,
                });
            } catch (e) {
                log(`sampler: ${e.message}`);
            }
            await sleep(500);
        }
    })();
    return async () => {
        stopped = true;
        await loop;
    };
}
let stopSampler = async () => {};
let videoTrackId = null;
let audioTrackId = null;

try {
    await step('join', async () => {
        await openPage('pub');
        await openPage('sub1');
        const s1 = await call('sub1', (a) => window.weirTest.start(a),
            { room: args.room, display: 'sub1', role: 'student' });
        tPublish = elapsed();
        const p = await call('pub', (a) => window.weirTest.start(a),
            { room: args.room, display: 'pub', role: 'teacher', publish: true,
                width: 1280, height: 720 });
        return { sub1: s1.participant, pub: p.participant, published: p.published };
    });
    if (result.steps.join.ok)
        stopSampler = startSampler();

    await step('receive', async () => {
        const r = await until('sub1 decodes 150 video frames and plays', T(30000), async () => {
            const s = await inbound('sub1');
            const v = s.video;
            const el = (s.tracks.find((t) => t.kind === 'video') || {}).element;
            const done = v && v.framesDecoded >= 150 && v.frameWidth > 0 && v.frameHeight > 0 &&
                el && el.readyState >= 2 && el.videoWidth > 0 && el.currentTime > 0 &&
                s.audio && s.audio.packetsReceived > 0;
            return { done, s };
        });
        const tracks = await call('sub1', () => window.weirTest.receivedTracks());
        videoTrackId = (tracks.find((t) => t.kind === 'video') || {}).trackId;
        audioTrackId = (tracks.find((t) => t.kind === 'audio') || {}).trackId;
        const a1 = r.s.audio.packetsReceived;
        result.figures.sub1_150_frames_ms = elapsed() - tPublish;
        await sleep(2000);
        const s2 = await inbound('sub1');
        result.figures.sub1_frames_decoded = s2.video.framesDecoded;
        result.figures.sub1_first_frame_size = [r.s.video.frameWidth, r.s.video.frameHeight];
        return {
            tracks,
            video: s2.video,
            element: (s2.tracks.find((t) => t.kind === 'video') || {}).element,
            audio_packets: [a1, s2.audio.packetsReceived],
            audio_grows: s2.audio.packetsReceived > a1,
            audio: s2.audio,
        };
    });

    // RTX and RED as negotiated with Chromium: the test asserts on the SDPs.
    await step('sdp', async () => ({
        pub: await call('pub', () => window.weirTest.descriptions()),
        sub1: await call('sub1', () => window.weirTest.descriptions()),
    }));

    await step('top_layer', async () => {
        // From the sampler's timeline (it runs from the publish call on).
        const r = await until('publisher sends rid f at 1280 wide and sub1 receives it', T(45000),
            async () => {
                const pubAt = result.timeline.find((x) => x.rids.f && x.rids.f.w >= 1280 &&
                    x.rids.f.bytes > 0);
                const subAt = result.timeline.find((x) => x.recv && x.recv[0] >= 1280);
                return { done: pubAt && subAt, pubAt, subAt };
            }, 500);
        const o = await outbound('pub');
        const i = await inbound('sub1');
        result.figures.publisher_full_layer_ms = r.pubAt.t;
        result.figures.subscriber_full_layer_ms = r.subAt.t;
        result.figures.available_outgoing_bitrate_at_full_layer = r.pubAt.aob;
        return { outbound: o, inbound_video: i.video, publisher_full_at: r.pubAt,
            subscriber_full_at: r.subAt };
    });
    {
        const o = await outbound('pub');
        result.figures.available_outgoing_bitrate = o.availableOutgoingBitrate;
        result.figures.rids = o.rids;
    }

    await step('layers', async () => {
        if (!videoTrackId)
            throw fail('no video track id from the receive step');
        const before = (await inbound('sub1')).video;
        const wBefore = before.frameWidth;
        const t1 = await call('sub1', () => window.weirTest.now());
        await call('sub1', (a) => window.weirTest.setPreferences(a.track, { max_spatial: 0 }),
            { track: videoTrackId });
        const down = await until('layer_changed spatial 0 and a frame <= half as wide', T(15000),
            async () => {
                const ev = (await call('sub1', (t) => window.weirTest.events(t), t1))
                    .filter((e) => e.type === 'layer_changed');
                const v = (await inbound('sub1')).video;
                const lc = ev.find((e) => e.params.spatial === 0 && e.params.track === videoTrackId);
                const done = lc && v.frameWidth > 0 && v.frameWidth <= wBefore / 2;
                return { done, ev, v, lc };
            });
        const downAt = await call('sub1', () => window.weirTest.now());
        // The middle layer: rid h, half the full width.
        const t15 = downAt;
        await call('sub1', (a) => window.weirTest.setPreferences(a.track, { max_spatial: 1 }),
            { track: videoTrackId });
        const mid = await until('layer_changed spatial 1 and a frame half as wide', T(15000),
            async () => {
                const ev = (await call('sub1', (t) => window.weirTest.events(t), t15))
                    .filter((e) => e.type === 'layer_changed');
                const v = (await inbound('sub1')).video;
                const lc = ev.find((e) => e.params.spatial === 1 && e.params.track === videoTrackId);
                const done = lc && v.frameWidth > down.v.frameWidth && v.frameWidth < wBefore;
                return { done, ev, v, lc };
            });
        const t2 = await call('sub1', () => window.weirTest.now());
        result.figures.layer_mid_ms = t2 - t15;
        await call('sub1', (a) => window.weirTest.setPreferences(a.track, { max_spatial: 2 }),
            { track: videoTrackId });
        const up = await until('layer_changed spatial 2 and the full width again', T(20000),
            async () => {
                const ev = (await call('sub1', (t) => window.weirTest.events(t), t2))
                    .filter((e) => e.type === 'layer_changed');
                const v = (await inbound('sub1')).video;
                const lc = ev.find((e) => e.params.spatial === 2 && e.params.track === videoTrackId);
                const done = lc && v.frameWidth >= wBefore;
                return { done, ev, v, lc };
            });
        result.figures.layer_widths = { before: wBefore, down: down.v.frameWidth, mid: mid.v.frameWidth,
            up: up.v.frameWidth };
        result.figures.layer_down_ms = downAt - t1;
        result.figures.layer_up_ms = (await call('sub1', () => window.weirTest.now())) - t2;
        return {
            before: [before.frameWidth, before.frameHeight],
            down: [down.v.frameWidth, down.v.frameHeight], down_event: down.lc.params,
            mid: [mid.v.frameWidth, mid.v.frameHeight], mid_event: mid.lc.params,
            up: [up.v.frameWidth, up.v.frameHeight], up_event: up.lc.params,
            frames_decoded: up.v.framesDecoded,
        };
    });

    // set_preferences paused: the subscriber stops receiving the track's packets, and gets
    // them (and decodes again) once it resumes.
    await step('pause', async () => {
        if (!videoTrackId)
            throw fail('no video track id from the receive step');
        await call('sub1', (a) => window.weirTest.setPreferences(a.track, { paused: true }),
            { track: videoTrackId });
        await sleep(1000); // what was in flight arrives
        const p0 = (await inbound('sub1')).video;
        await sleep(2000);
        const p1 = (await inbound('sub1')).video;
        await call('sub1', (a) => window.weirTest.setPreferences(a.track, { paused: false }),
            { track: videoTrackId });
        const resumed = await until('packets and frames again after resuming', T(15000),
            async () => {
                const v = (await inbound('sub1')).video;
                return { done: v.packetsReceived > p1.packetsReceived + 50 &&
                    v.framesDecoded > p1.framesDecoded + 20, v };
            });
        result.figures.paused_packets_in_2s = p1.packetsReceived - p0.packetsReceived;
        return {
            paused_packets: [p0.packetsReceived, p1.packetsReceived],
            resumed: [resumed.v.packetsReceived, resumed.v.framesDecoded],
            paused_frames: [p0.framesDecoded, p1.framesDecoded],
        };
    });

    await stopSampler();
    const firstFrame = result.timeline.find((x) => x.dec > 0);
    result.figures.sub1_first_frame_ms = firstFrame ? firstFrame.t : null;

    await step('late', async () => {
        await openPage('sub2');
        const s2 = await call('sub2', (a) => window.weirTest.start(a),
            { room: args.room, display: 'sub2', role: 'observer' });
        const joinTracks = (s2.tracks || []).map((t) => ({ id: t.id, kind: t.kind, source: t.source,
            simulcast: t.simulcast }));
        const r = await until('sub2 decodes 60 video frames and receives audio', T(20000), async () => {
            const s = await inbound('sub2');
            const done = s.video && s.video.framesDecoded >= 60 && s.video.frameWidth > 0 &&
                s.audio && s.audio.packetsReceived > 50;
            return { done, s };
        });
        result.figures.sub2_frames_decoded = r.s.video.framesDecoded;
        result.figures.sub2_frame_size = [r.s.video.frameWidth, r.s.video.frameHeight];
        return { join_tracks: joinTracks, video: r.s.video, audio: r.s.audio,
            tracks: await call('sub2', () => window.weirTest.receivedTracks()) };
    });

    await step('ice_restart', async () => {
        const before = await inbound('sub1');
        const r = await call('pub', () => window.weirTest.restartIce());
        if (r.before === r.after)
            throw new Error(`the publisher's ICE ufrag did not change (${r.before})`);
        const after = await until('sub1 keeps decoding after the publisher restarted ICE', T(15000),
            async () => {
                const s = await inbound('sub1');
                const pc = await call('pub', () => window.weirTest.pcStates());
                return { done: pc.publisher === 'connected' &&
                    s.video.framesDecoded >= before.video.framesDecoded + 60, s, pc };
            });
        return { ufrag: r, frames_before: before.video.framesDecoded,
            frames_after: after.s.video.framesDecoded, publisher: after.pc.publisher };
    });

    if (args.hold) {
        const ids = {};
        for (const name of Object.keys(pages))
            ids[name] = await call(name, () => window.weirTest.pcStates());
        emit({ event: 'hold', pcs: ids, video_track: videoTrackId, audio_track: audioTrackId });
        const rl = createInterface({ input: process.stdin });
        await new Promise((resolve) => {
            rl.once('line', resolve);
            rl.once('close', resolve);
        });
        rl.close();
    }

    await step('unpublish', async () => {
        const since = {};
        for (const name of ['sub1', 'sub2'])
            if (pages[name])
                since[name] = await call(name, () => window.weirTest.now());
        await call('pub', () => window.weirTest.stop());
        const out = {};
        for (const name of Object.keys(since)) {
            const r = await until(`${name} hears track_unpublished and drops both tracks`, T(10000),
                async () => {
                    const ev = await call(name, (t) => window.weirTest.events(t), since[name]);
                    const unpublished = ev.filter((e) => e.type === 'track_unpublished')
                        .map((e) => e.params.track.id);
                    const removed = ev.filter((e) => e.type === 'trackremoved')
                        .map((e) => e.params.trackId);
                    const offers = ev.filter((e) => e.type === 'offer').length;
                    const pcs = await call(name, () => window.weirTest.pcStates());
                    const errors = await call(name, () => window.weirTest.errors());
                    const done = unpublished.length === 2 && removed.length === 2 && offers >= 1;
                    const r = { done, unpublished, removed, offers, pcs, errors };
                    if (!done) {
                        r.transceivers = await call(name, () => window.weirTest.transceivers());
                        r.last_offer = (await call(name, () => window.weirTest.offers())).slice(-1)[0];
                    }
                    return r;
                });
            out[name] = { unpublished: r.unpublished.sort(), removed: r.removed.sort(),
                offers: r.offers, subscriber_pc: r.pcs.subscriber, errors: r.errors };
            out[name].transceivers = await call(name, () => window.weirTest.transceivers());
        }
        return out;
    });
} finally {
    await stopSampler();
    for (const [name, page] of Object.entries(pages)) {
        try {
            result.pages[name] = {
                errors: await page.evaluate(() => window.weirTest.errors()),
                events: (await page.evaluate(() => window.weirTest.events()))
                    .filter((e) => e.type !== 'log').slice(0, 60),
                pcs: await page.evaluate(() => window.weirTest.pcStates()),
                console: consoleLines[name],
            };
            await page.evaluate(() => window.weirTest.stop());
        } catch (e) {
            result.pages[name] = { ...(result.pages[name] || {}), teardown_error: String(e.message) };
        }
    }
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    result.figures.total_ms = elapsed();
    emit(result);
}
