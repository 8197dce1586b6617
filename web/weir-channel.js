// weir-channel.js — one labelled data channel of a Weir room, as weir.js
// exposes it (client.whiteboard, client.chat, client.channel(label)).
//
// A RoomChannel outlives the RTCDataChannel under it: weir.js attaches a
// fresh RTCDataChannel after a rejoin (new publisher PC) or after the server
// closed the old one (a stream reset: backpressure, an oversized message), and
// the page keeps its listeners. The server replays the label's history on
// every open, so every 'open' event means "what you built from earlier
// messages is stale: start again from the messages that follow".
//
// Two kinds of label (docs/protocol.md, Data channels):
//
//   stamped   `whiteboard`, `chat`: every message comes back from the server as
//             {"seq","from","ts","data"} in one room-wide order, the sender's
//             own included; errors come back as {"error":{"code","message"}}.
//   relayed   any other label: other participants' frames as they sent them
//             (text or binary), nothing stamped, no history, no echo.

import { WeirError } from './weir-error.js';

const SEND_QUEUE_MAX = 500; // messages held while the channel (re)opens

/** The size in bytes a text or binary frame takes on the wire. */
function byteLength(frame) {
    if (typeof frame === 'string')
        return new TextEncoder().encode(frame).length;
    return frame.byteLength;
}

export class RoomChannel {
    /**
     * @param {string} label the data channel label
     * @param {object} opts
     * @param {boolean} opts.stamped the server stamps and echoes (whiteboard, chat)
     * @param {(value: any) => string|ArrayBuffer|ArrayBufferView} [opts.encode]
     *        what send(value) puts on the wire (default: strings and binary as
     *        they are, anything else as JSON)
     * @param {(msg: object) => object} [opts.decorate] adds fields to a
     *        stamped message before listeners see it
     * @param {() => number} [opts.maxMessageSize] bytes the SCTP transport
     *        takes in one message (0 = unknown)
     * @param {(msg: string) => void} [opts.log]
     */
    constructor(label, opts = {}) {
        this.label = label;
        this.stamped = !!opts.stamped;
        this.encode = opts.encode || ((v) => (typeof v === 'string' || v instanceof ArrayBuffer ||
            ArrayBuffer.isView(v) ? v : JSON.stringify(v)));
        this.decorate = opts.decorate || ((m) => m);
        this.maxMessageSize = opts.maxMessageSize || (() => 0);
        this.log = opts.log || (() => {});
        /** 'idle' (never asked for), 'connecting', 'open' or 'closed'. */
        this.state = 'idle';
        /** The seq of the last stamped message received since the last open. */
        this.lastSeq = 0;
        /** How many times the channel opened (1 on the first open). */
        this.opens = 0;
        this.openedAt = 0; // Date.now() of the last open
        this._losses = 0; // server closes in a row (weir.js counts them)
        this.dc = null; // the RTCDataChannel now attached
        this._queue = []; // frames sent while connecting
        this._listeners = new Map();
    }

    // ------------------------------------------------------------ events

    /**
     * on(fn) listens to messages; on(type, fn) to 'message', 'error', 'open'
     * or 'close'. Returns a function that removes the listener.
     */
    on(typeOrFn, fn) {
        const type = typeof typeOrFn === 'function' ? 'message' : typeOrFn;
        const listener = typeof typeOrFn === 'function' ? typeOrFn : fn;
        if (!this._listeners.has(type))
            this._listeners.set(type, new Set());
        this._listeners.get(type).add(listener);
        return () => this._listeners.get(type).delete(listener);
    }

    _emit(type, detail) {
        for (const fn of [...(this._listeners.get(type) || [])]) {
            try {
                fn(detail);
            } catch (e) {
                console.error(`weir.js: a ${this.label} '${type}' listener threw`, e);
            }
        }
    }

    /** Resolves when the channel is open (at once if it is); rejects after timeoutMs (0: never). */
    whenOpen(timeoutMs = 0) {
        if (this.state === 'open')
            return Promise.resolve(this);
        return new Promise((resolve, reject) => {
            let timer = null;
            const off = this.on('open', () => {
                off();
                clearTimeout(timer);
                resolve(this);
            });
            if (timeoutMs > 0)
                timer = setTimeout(() => {
                    off();
                    reject(new WeirError(0, `${this.label}: not open within ${timeoutMs} ms`));
                }, timeoutMs);
        });
    }

    // ------------------------------------------------------------ sending

    /**
     * Sends one message. On a stamped label it comes back to every listener
     * (this page's too) once the server has ordered it. While the channel is
     * (re)opening, messages wait (up to 500) and go out on open.
     * Throws a WeirError: 409 never opened or closed for good, 413 larger than
     * the server takes, 429 too many waiting.
     */
    send(value) {
        if (this.state === 'idle' || this.state === 'closed')
            throw new WeirError(409, `${this.label}: the channel is not open (openChannels first)`);
        const frame = this.encode(value);
        const max = this.maxMessageSize();
        const size = byteLength(frame);
        if (max > 0 && size > max)
            throw new WeirError(413, `${this.label}: message of ${size} bytes, the server takes ` +
                `at most ${max}`);
        if (this.state === 'open' && this.dc && this.dc.readyState === 'open') {
            this.dc.send(frame);
            return;
        }
        if (this._queue.length >= SEND_QUEUE_MAX)
            throw new WeirError(429, `${this.label}: ${SEND_QUEUE_MAX} messages already wait ` +
                'for the channel to open');
        this._queue.push(frame);
    }

    // ------------------------------------------------------------ weir.js side

    /** Takes a new RTCDataChannel (weir.js calls this; the old one is dropped). */
    _attach(dc) {
        this._drop();
        this.dc = dc;
        this.state = 'connecting';
        dc.binaryType = 'arraybuffer';
        const mine = (fn) => (ev) => {
            if (this.dc === dc)
                fn(ev);
        };
        dc.addEventListener('open', mine(() => this._onOpen()));
        dc.addEventListener('message', mine((ev) => this._onMessage(ev.data)));
        dc.addEventListener('close', mine(() => this._onClose('closed by the server')));
        dc.addEventListener('error', mine((ev) => {
            const err = ev.error;
            this.log(`${this.label}: channel error: ${err && err.message}`);
        }));
        if (dc.readyState === 'open')
            this._onOpen();
    }

    /**
     * The channel went away with its peer connection (leave, rejoin, close).
     * again: weir.js will attach a new one (sends keep waiting).
     */
    _detach(reason, again) {
        if (!this.dc && this.state === 'idle')
            return;
        const was = this.state;
        this._drop();
        this.state = again ? 'connecting' : 'closed';
        if (!again)
            this._queue = [];
        if (was === 'open')
            this._emit('close', { reason, reopening: !!again });
    }

    _drop() {
        const dc = this.dc;
        this.dc = null;
        if (dc && dc.readyState !== 'closed')
            dc.close();
    }

    _onOpen() {
        this.state = 'open';
        this.opens++;
        this.lastSeq = 0;
        this.openedAt = Date.now();
        // 'open' first: the page resets what it built, then history arrives.
        this._emit('open', { reopen: this.opens > 1 });
        for (const frame of this._queue.splice(0)) {
            try {
                this.dc.send(frame);
            } catch (e) {
                this._emit('error', { error: new WeirError(0, `${this.label}: ${e.message}`) });
            }
        }
    }

    // The server reset the stream (or the SCTP association ended): weir.js
    // decides whether to open it again (_onLost answers true when it will).
    _onClose(reason) {
        this.dc = null;
        const again = this._onLost ? this._onLost(this) : false;
        this.state = again ? 'connecting' : 'closed';
        if (!again)
            this._queue = [];
        this._emit('close', { reason, reopening: again });
    }

    _onMessage(data) {
        if (!this.stamped) {
            const binary = typeof data !== 'string';
            this._emit('message', { data, binary });
            return;
        }
        if (typeof data !== 'string') {
            this.log(`${this.label}: a binary frame on a stamped channel, dropped`);
            return;
        }
        let msg;
        try {
            msg = JSON.parse(data);
        } catch {
            this.log(`${this.label}: a frame that is not JSON, dropped`);
            return;
        }
        if (msg && typeof msg === 'object' && msg.error && msg.seq === undefined) {
            const code = Number(msg.error.code) || 0;
            const text = String(msg.error.message || 'refused');
            this._emit('error', { error: new WeirError(code, `${this.label}: ${text}`), code,
                message: text });
            return;
        }
        if (!msg || typeof msg !== 'object' || !Number.isInteger(msg.seq)) {
            this.log(`${this.label}: a frame without seq, dropped`);
            return;
        }
        if (msg.seq <= this.lastSeq)
            this.log(`${this.label}: seq ${msg.seq} after ${this.lastSeq} (out of order)`);
        this.lastSeq = msg.seq;
        this._emit('message', this.decorate({ seq: msg.seq, from: msg.from, ts: msg.ts,
            data: msg.data }));
    }
}
