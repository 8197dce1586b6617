// What the Chromium test drivers (e2e.mjs, scenarios.mjs, whiteboard.mjs) share: the
// browser flags of our test machines, and a small step runner whose steps
// record ok/error and their figures in `result` without stopping the run.

import { execFileSync } from 'node:child_process';

// Debian's Chromium, headless, fake camera and microphone, loopback ICE
// allowed, and nothing that phones home (this machine's network is closed).
export const CHROMIUM_FLAGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection',
];

/**
 * Keeps a page's console lines (the first 200) and uncaught errors in `lines`, for the
 * driver's result when a step fails.
 */
export function captureConsole(page, lines) {
    page.on('console', (m) => {
        if (lines.length < 200)
            lines.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
}

export function chromiumVersion(path) {
    try {
        return execFileSync(path, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
            .toString().trim();
    } catch (e) {
        return `unknown (${e.message})`;
    }
}

/**
 * Logging, timing and the step runner for one driver. tag prefixes the
 * progress lines on stderr; timeoutScale multiplies every T(ms); steps are
 * recorded in result.steps[name] = {ok, ms, ...details} or {ok: false, error}.
 */
export function createHarness(tag, timeoutScale, result) {
    const t0 = Date.now();
    const elapsed = () => Date.now() - t0;
    const log = (...m) => console.error(`[${tag} ${(elapsed() / 1000).toFixed(1)}s]`, ...m);
    const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const T = (ms) => ms * timeoutScale;

    function fail(message, details) {
        const e = new Error(message);
        e.details = details;
        return e;
    }

    // Runs one step; failures are recorded, not thrown.
    async function step(name, fn) {
        const started = elapsed();
        log(`step ${name}: start`);
        try {
            const details = await fn();
            result.steps[name] = { ok: true, ms: elapsed() - started, ...(details || {}) };
            log(`step ${name}: ok`, JSON.stringify(details || {}).slice(0, 1500));
        } catch (e) {
            result.steps[name] = { ok: false, ms: elapsed() - started,
                error: String(e && e.message || e), ...(e && e.details ? e.details : {}) };
            log(`step ${name}: FAILED: ${e && e.message}`,
                JSON.stringify((e && e.details) || {}).slice(0, 3000));
        }
    }

    // Polls check() until it returns {done: true, ...}; throws after timeoutMs.
    async function until(what, timeoutMs, check, intervalMs = 250) {
        const deadline = Date.now() + timeoutMs;
        let last = null;
        for (;;) {
            const r = await check();
            if (r && r.done)
                return r;
            last = r;
            if (Date.now() > deadline)
                throw fail(`${what}: not within ${timeoutMs} ms`, { last });
            await sleep(intervalMs);
        }
    }

    return { T, elapsed, log, emit, sleep, fail, step, until };
}
