#!/usr/bin/env node
// Captures real Chromium SDPs for tests/data/sdp (see its README.md).
//
// Run from a scratch directory outside the repository that has playwright-core:
//   mkdir -p /tmp/sdpcap && cd /tmp/sdpcap && npm init -y && npm i playwright-core
//   node /path/to/weir/tools/capture-sdp.mjs [out-dir] [chromium-path]
// out-dir defaults to tests/data/sdp next to this script; chromium-path to
// /usr/bin/chromium. playwright-core is resolved from the current directory so
// that nothing is installed inside the repository.
//
// The SDPs are written verbatim: Chromium's CRLF line ends are kept.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_FLAGS } from '../tests/browser/harness.mjs';

const require = createRequire(join(process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');

const here = dirname(fileURLToPath(import.meta.url));
const outDir = process.argv[2] || join(here, '..', 'tests', 'data', 'sdp');
const exe = process.argv[3] || '/usr/bin/chromium';

// Runs inside the page. Each capture closes its peer connections so the
// next one starts clean.
async function captureAll() {
    const gathered = (pc) =>
        new Promise((resolve) => {
            if (pc.iceGatheringState === 'complete')
                return resolve();
            const timer = setTimeout(resolve, 10000);
            pc.addEventListener('icegatheringstatechange', () => {
                if (pc.iceGatheringState === 'complete') {
                    clearTimeout(timer);
                    resolve();
                }
            });
        });
    const offerOf = async (pc) => {
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        return pc.localDescription.sdp;
    };
    const media = () => navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: 1280, height: 720 },
    });
    const out = {};

    // (a) Publisher: audio, video with three simulcast encodings (RFC 8853 /
    // RFC 8851 rids q/h/f), and a data channel, as weir.js publishes.
    {
        const s = await media();
        const pc = new RTCPeerConnection();
        pc.addTransceiver(s.getAudioTracks()[0], { direction: 'sendonly', streams: [s] });
        pc.addTransceiver(s.getVideoTracks()[0], {
            direction: 'sendonly',
            streams: [s],
            sendEncodings: [
                { rid: 'q', scaleResolutionDownBy: 4 },
                { rid: 'h', scaleResolutionDownBy: 2 },
                { rid: 'f', scaleResolutionDownBy: 1 },
            ],
        });
        pc.createDataChannel('whiteboard');
        out['publish-simulcast'] = await offerOf(pc);
        pc.close();
        s.getTracks().forEach((t) => t.stop());
    }

    // (b) A plain offer: one audio and one non-simulcast video track added
    // with addTrack (sendrecv, a=ssrc-group:FID for RTX).
    {
        const s = await media();
        const pc = new RTCPeerConnection();
        s.getTracks().forEach((t) => pc.addTrack(t, s));
        out['offer-audio-video'] = await offerOf(pc);
        pc.close();
        s.getTracks().forEach((t) => t.stop());
    }

    // (c) Chromium answering a sendonly audio+video offer, i.e. what a
    // subscriber PC answers to the SFU's offer (recvonly on its side).
    {
        const s = await media();
        const sender = new RTCPeerConnection();
        sender.addTransceiver(s.getAudioTracks()[0], { direction: 'sendonly', streams: [s] });
        sender.addTransceiver(s.getVideoTracks()[0], { direction: 'sendonly', streams: [s] });
        const offer = await sender.createOffer();
        await sender.setLocalDescription(offer);
        const pc = new RTCPeerConnection();
        await pc.setRemoteDescription(offer);
        await pc.setLocalDescription(await pc.createAnswer());
        await gathered(pc);
        out['answer-recvonly'] = pc.localDescription.sdp;
        pc.close();
        sender.close();
        s.getTracks().forEach((t) => t.stop());
    }
    return out;
}

// The full version string, e.g. "Chromium 156.0.8078.108 built on Debian ...";
// the page's user agent is reduced to "156.0.0.0".
const version = execFileSync(exe, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .match(/(\d+)\.\d+\.\d+\.\d+/);
// getUserMedia needs a secure context, which about:blank is not; an empty
// page from loopback is one.
const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>weir sdp capture</title>');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const profile = mkdtempSync(join(tmpdir(), 'weir-sdpcap-'));
// A persistent context is how playwright takes a fresh --user-data-dir.
const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: CHROMIUM_FLAGS, // the test drivers' flags (tests/browser/harness.mjs)
});
try {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const sdps = await page.evaluate(captureAll);
    mkdirSync(outDir, { recursive: true });
    for (const [what, sdp] of Object.entries(sdps)) {
        const file = join(outDir, `chromium-${version[1]}-${what}.sdp`);
        writeFileSync(file, sdp);
        console.log(`${file}: ${sdp.length} bytes`);
    }
    console.log(`chromium ${version[0]}`);
} finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
}
