#!/usr/bin/env node
// Captures real answers to Weir's subscriber offers for tests/data/sdp/subscriber
// (see its README.md): Chromium (headless, through playwright-core) and aiortc
// (Debian's python3-aiortc, run by /usr/bin/python3) each answer the
// weir-offer-*.sdp files that tests/unit/test_negotiate_subscriber.c writes
// (WEIR_WRITE_SUBSCRIBER_OFFERS=1).
//
// Run from a scratch directory outside the repository that has playwright-core:
//   mkdir -p /tmp/sdpcap && cd /tmp/sdpcap && npm init -y && npm i playwright-core
//   node /path/to/weir/tools/capture-subscriber-answer.mjs [dir] [chromium-path]
// dir defaults to tests/data/sdp/subscriber next to this script; chromium-path
// to /usr/bin/chromium.
//
// weir-offer-<name>.sdp is answered by a fresh peer connection, except
// weir-offer-reneg-<n>.sdp, which are one connection re-offered in order
// (1, 2, ...). The answers are written verbatim as
// chromium-<major>-answer-<name>.sdp and aiortc-<version>-answer-<name>.sdp;
// a peer that refuses an offer gets no file, and the script says why and
// exits 1: every offer Weir makes must be accepted.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM_FLAGS } from '../tests/browser/harness.mjs';

const require = createRequire(join(process.cwd(), 'package.json'));
const { chromium } = require('playwright-core');

const here = dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2] || join(here, '..', 'tests', 'data', 'sdp', 'subscriber');
const exe = process.argv[3] || '/usr/bin/chromium';

const offers = {};
for (const f of readdirSync(dir).sort()) {
    const m = f.match(/^weir-offer-(.+)\.sdp$/);
    if (m)
        offers[m[1]] = readFileSync(join(dir, f), 'utf8');
}
const single = Object.keys(offers).filter((n) => !n.startsWith('reneg-'));
const reneg = Object.keys(offers)
    .filter((n) => n.startsWith('reneg-'))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));

// Runs inside the page: answers every offer; returns {answers, errors, state}.
// state: per answer, what the page saw (transceivers, tracks, streams).
async function answerAll({ offers, single, reneg }) {
    const gathered = (pc) =>
        new Promise((resolve) => {
            if (pc.iceGatheringState === 'complete')
                return resolve();
            const timer = setTimeout(resolve, 5000);
            pc.addEventListener('icegatheringstatechange', () => {
                if (pc.iceGatheringState === 'complete') {
                    clearTimeout(timer);
                    resolve();
                }
            });
        });
    const describe = (pc) =>
        pc.getTransceivers().map((t) => ({
            mid: t.mid,
            direction: t.direction,
            currentDirection: t.currentDirection,
            track: t.receiver.track.kind + ':' + t.receiver.track.readyState +
                (t.receiver.track.muted ? ':muted' : ''),
        }));
    const answer = async (pc, sdp) => {
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await gathered(pc);
        return pc.localDescription.sdp;
    };
    const out = { answers: {}, errors: {}, state: {} };
    for (const name of single) {
        const pc = new RTCPeerConnection();
        try {
            out.answers[name] = await answer(pc, offers[name]);
            out.state[name] = describe(pc);
        } catch (e) {
            out.errors[name] = String(e);
        }
        pc.close();
    }
    const pc = new RTCPeerConnection();
    const streams = {};
    pc.ontrack = (e) => e.streams.forEach((s) => (streams[s.id] = s));
    for (const name of reneg) {
        try {
            out.answers[name] = await answer(pc, offers[name]);
            out.state[name] = {
                transceivers: describe(pc),
                streams: Object.values(streams).map((s) => s.id + ':' + s.getTracks().length),
            };
        } catch (e) {
            out.errors[name] = String(e);
            break; /* the rest of the sequence depends on this step */
        }
    }
    pc.close();
    return out;
}

// The same with aiortc: a Python program on stdin-free argv, JSON out.
const aiortcProgram = `
import asyncio, json, sys
import aiortc
from aiortc import RTCPeerConnection, RTCSessionDescription

async def answer(pc, sdp):
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp

async def main():
    job = json.load(open(sys.argv[1]))
    out = {"version": aiortc.__version__, "answers": {}, "errors": {}}
    for name in job["single"]:
        pc = RTCPeerConnection()
        try:
            out["answers"][name] = await answer(pc, job["offers"][name])
        except Exception as e:
            out["errors"][name] = "%s: %s" % (type(e).__name__, e)
        await pc.close()
    pc = RTCPeerConnection()
    for name in job["reneg"]:
        try:
            out["answers"][name] = await answer(pc, job["offers"][name])
        except Exception as e:
            out["errors"][name] = "%s: %s" % (type(e).__name__, e)
            break
    await pc.close()
    print(json.dumps(out))

asyncio.run(main())
`;

// aiortc 1.4 has VP8 and H264 only, and throws on an m-line of another
// codec instead of rejecting it: the control plane must not offer it VP9 or
// AV1. Every other refusal is a failure.
const mayRefuse = (prefix, name) => prefix.startsWith('aiortc') && name === 'codecs';

function save(prefix, result) {
    let ok = true;
    for (const [name, sdp] of Object.entries(result.answers)) {
        const file = join(dir, `${prefix}-answer-${name}.sdp`);
        writeFileSync(file, sdp);
        console.log(`${file}: ${sdp.length} bytes`);
    }
    for (const [name, why] of Object.entries(result.errors)) {
        const file = join(dir, `${prefix}-refused-${name}.txt`);
        writeFileSync(file, why + '\n');
        console.log(`${prefix} REFUSED weir-offer-${name}.sdp: ${why}`);
        ok = ok && mayRefuse(prefix, name);
    }
    return ok;
}

const work = mkdtempSync(join(tmpdir(), 'weir-subcap-'));
let ok = true;
try {
    // aiortc first: it needs no browser.
    const job = join(work, 'job.json');
    writeFileSync(job, JSON.stringify({ offers, single, reneg }));
    const py = JSON.parse(
        execFileSync('/usr/bin/python3', ['-c', aiortcProgram, job], { maxBuffer: 1 << 24 })
            .toString());
    ok = save(`aiortc-${py.version.split('.').slice(0, 2).join('.')}`, py) && ok;

    const version = execFileSync(exe, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .match(/(\d+)\.\d+\.\d+\.\d+/);
    const profile = join(work, 'profile');
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: exe,
        headless: true,
        args: CHROMIUM_FLAGS, // the test drivers' flags (tests/browser/harness.mjs)
    });
    try {
        const page = await context.newPage();
        const res = await page.evaluate(answerAll, { offers, single, reneg });
        ok = save(`chromium-${version[1]}`, res) && ok;
        for (const [name, state] of Object.entries(res.state))
            console.log(`chromium state after ${name}: ${JSON.stringify(state)}`);
        console.log(`chromium ${version[0]}; aiortc ${py.version}`);
    } finally {
        await context.close();
    }
} finally {
    rmSync(work, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
