// weir.js — browser client for the Weir SFU (signalling protocol version 1).
//
// An ES module with no dependencies. It speaks JSON-RPC 2.0 over the
// WebSocket at /ws (subprotocol "weir-v1") and runs the two peer connections
// of a participant:
//
//   publisher PC   the client offers (`publish`), the server answers;
//                  carries this participant's camera/microphone (simulcast
//                  video by default);
//   subscriber PC  the server offers (notification `offer`), the client
//                  answers (method `answer`); carries everything this
//                  participant receives.
//
// ICE candidates trickle both ways on both connections (`trickle`).
//
// Usage:
//
//   import { WeirClient } from '/weir.js';
//   const weir = new WeirClient();
//   weir.on('track', ({ track, stream, trackId, participant, kind, info }) => {
//       videoElement.srcObject = stream;
//   });
//   weir.on('layer_changed', ({ track, spatial, temporal }) => { ... });
//   await weir.connect();                 // ws(s)://<this page's host>/ws
//   const { participant, tracks } = await weir.join('physics-101', { display: 'Ada' });
//   const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
//   await weir.publish(media);            // simulcast rids q/h/f (1/4, 1/2, full)
//   const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
//   const share = await weir.publishScreen(screen);   // renegotiates: source "screen"
//   await weir.unpublish(share.transceivers);          // renegotiates: unpublished
//   await weir.setPreferences(trackId, { max_spatial: 0 });
//   const stats = await weir.getStats();  // per-track resolution, fps, bitrate, layer, loss, rtt
//   weir.whiteboard.on('open', () => clearBoard());    // the history follows every open
//   weir.whiteboard.on((m) => draw(m.data));           // stamped {seq, from, ts, data}, own too
//   await weir.openChannels();            // whiteboard + chat (publisher PC, data only if need be)
//   weir.whiteboard.send({ op: 'line', pts: [[0.1, 0.2], [0.3, 0.4]] });
//   weir.chat.send('hello');
//   await weir.leave();
//   weir.close();
//
// The full API is documented in docs/client-js.md.
//
// Events (subscribe with on(type, fn); on() returns a function that removes
// the listener). Every server notification is emitted under its own method
// name with its params as the argument (`participant_joined`,
// `participant_left`, `track_published`, `track_unpublished`, `track_muted`,
// `layer_changed`, `active_speaker`, `moderated`, `bye`, `offer`, `trickle`)
// and also as `notification` with the whole message. In addition:
//
//   track          a remote track arrived on the subscriber PC:
//                  { track, stream, trackId, participant, kind, mid, info,
//                    transceiver } — trackId/participant are Weir's ids (from
//                    the offer's a=msid), info the `track_published` record
//                    when known ({kind, source, simulcast, muted, ...})
//   trackremoved   Weir stopped sending a track (or the session left):
//                  { trackId, participant, mid }
//   connectionstatechange  { pc: 'publisher'|'subscriber', state }
//   reconnecting   { reason, attempt } — an ICE restart or a rejoin began
//   reconnected    { how: 'ice-restart'|'rejoin', participant } — media flows again
//                  (a rejoin that publishes waits for its publisher PC to connect)
//   close          the WebSocket closed: { code, reason }
//   error          a failure outside any caller's promise (e.g. a server offer
//                  the browser refused): { where, error }
//
// Errors from requests reject with a WeirError carrying the JSON-RPC `code`.

import { WeirError } from './weir-error.js';
import { RoomChannel } from './weir-channel.js';

export { WeirError, RoomChannel };

/** The simulcast encodings publish() uses: rids q/h/f at 1/4, 1/2 and full resolution. */
export const DEFAULT_SIMULCAST = Object.freeze([
    Object.freeze({ rid: 'q', scaleResolutionDownBy: 4 }),
    Object.freeze({ rid: 'h', scaleResolutionDownBy: 2 }),
    Object.freeze({ rid: 'f', scaleResolutionDownBy: 1 }),
]);

const REQUEST_TIMEOUT_MS = 15000;
// A data channel the server closes is opened again after 0.5 s, 1 s, 2 s, ...;
// after 5 closes in a row (none open for 10 s) weir.js stops trying.
const CHANNEL_REOPEN_DELAY_MS = 500;
const CHANNEL_REOPENS = 5;
const CHANNEL_STABLE_MS = 10000;

/** Runs async tasks one after another (signalling steps of one PC must not interleave). */
class SerialQueue {
    constructor() {
        this.tail = Promise.resolve();
    }
    push(task) {
        const run = this.tail.then(task);
        this.tail = run.catch(() => {});
        return run;
    }
}

/**
 * mid → {stream, track} from the a=mid / a=msid lines of an SDP.
 * Weir writes `a=msid:<participant id> <track id>` in its subscriber offers.
 */
export function msidByMid(sdp) {
    const out = new Map();
    let mid = null;
    let msid = null;
    const flush = () => {
        if (mid !== null && msid)
            out.set(mid, msid);
    };
    for (const raw of sdp.split(/\r?\n/)) {
        const line = raw.trim();
        if (line.startsWith('m=')) {
            flush();
            mid = null;
            msid = null;
        } else if (line.startsWith('a=mid:')) {
            mid = line.slice(6);
        } else if (line.startsWith('a=msid:') && !msid) {
            const [stream, track] = line.slice(7).split(' ');
            msid = { stream, track: track || null };
        }
    }
    flush();
    return out;
}

/**
 * 'good' | 'fair' | 'poor' for one received track's statistics: loss over 5 %,
 * a round trip over 400 ms or video under 10 fps is poor; loss over 1 %, a
 * round trip over 150 ms or video under 20 fps is fair.
 */
export function quality({ kind, lossPercent = 0, rtt = null, fps = null }) {
    const ms = rtt === null ? 0 : rtt * 1000;
    const video = kind === 'video' && fps !== null;
    if (lossPercent > 5 || ms > 400 || (video && fps < 10))
        return 'poor';
    if (lossPercent > 1 || ms > 150 || (video && fps < 20))
        return 'fair';
    return 'good';
}

function defaultUrl() {
    if (typeof location === 'undefined')
        throw new WeirError(0, 'connect: no URL given and no page location to derive it from');
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export class WeirClient {
    /**
     * @param {object} [options]
     * @param {RTCIceServer[]} [options.iceServers] used until `join` returns the server's list
     * @param {(msg: string) => void} [options.log] debug log sink (default: none)
     * @param {number} [options.requestTimeoutMs] default 15000
     * @param {boolean} [options.reconnect] default true: ICE restart when a peer
     *        connection fails, rejoin (new socket, same room) when the socket drops
     * @param {number} [options.reconnectAttempts] rejoin attempts before giving up (default 5)
     * @param {number} [options.reconnectDelayMs] first rejoin delay, doubled each time (default 500)
     * @param {number} [options.reconnectConnectMs] how long a rejoin attempt waits for its new
     *        publisher connection to connect before it counts as failed (default 10000)
     */
    constructor(options = {}) {
        this.iceServers = options.iceServers || [];
        this.log = options.log || (() => {});
        this.requestTimeoutMs = options.requestTimeoutMs || REQUEST_TIMEOUT_MS;
        this.ws = null;
        this.participant = null; // {id, display, role} after join
        this.room = null;
        this.publisher = null; // RTCPeerConnection
        this.subscriber = null; // RTCPeerConnection
        this.tracks = new Map(); // track id → track_published record (room-wide)
        this.received = new Map(); // track id → the `track` event detail
        this._listeners = new Map();
        this._nextId = 1;
        this._pending = new Map(); // id → {resolve, reject, timer, method}
        this._pub = null; // publisher signalling state
        this._sub = null; // subscriber signalling state
        this.layers = new Map(); // received track id → {spatial, temporal} (layer_changed)
        this.participants = new Map(); // participant id → {id, display, role} (others)
        this.reconnect = options.reconnect !== false;
        this.reconnectAttempts = options.reconnectAttempts ?? 5;
        this.reconnectDelayMs = options.reconnectDelayMs ?? 500;
        this.reconnectConnectMs = options.reconnectConnectMs ?? 10000;
        this._url = null;
        this._joinArgs = null; // [room, opts] of the current join, for a rejoin
        this._published = []; // {transceiver, track, stream, source, simulcast} live on the publisher
        this._closing = false; // close()/bye: no rejoin when the socket goes
        this._rejoining = null; // the running rejoin, a promise
        this._iceRestarting = false;
        this._inRoom = false; // between a join result and leave/close/socket loss
        this._statsPrev = new Map(); // stats id → {bytes, frames, t} for rates
        this._wanted = new Set(); // data channel labels kept open on the publisher PC
        this._channels = new Map(); // label → RoomChannel
        /** The room's whiteboard: send(op), on(fn), on('error'|'open'|'close', fn). */
        this.whiteboard = this.channel('whiteboard');
        /** The room's chat: send(text), on(fn), on('error'|'open'|'close', fn). */
        this.chat = this.channel('chat');
    }

    // ------------------------------------------------------------ events

    /** Adds a listener; returns a function that removes it. */
    on(type, fn) {
        if (!this._listeners.has(type))
            this._listeners.set(type, new Set());
        this._listeners.get(type).add(fn);
        return () => this.off(type, fn);
    }

    off(type, fn) {
        const set = this._listeners.get(type);
        if (set)
            set.delete(fn);
    }

    /** Resolves with the next event of that type for which pred (optional) is true. */
    once(type, pred = () => true, timeoutMs = 0) {
        return new Promise((resolve, reject) => {
            let timer = null;
            const off = this.on(type, (detail) => {
                if (!pred(detail))
                    return;
                off();
                clearTimeout(timer);
                resolve(detail);
            });
            if (timeoutMs > 0)
                timer = setTimeout(() => {
                    off();
                    reject(new WeirError(0, `no ${type} event within ${timeoutMs} ms`));
                }, timeoutMs);
        });
    }

    _emit(type, detail) {
        const set = this._listeners.get(type);
        if (!set)
            return;
        for (const fn of [...set]) {
            try {
                fn(detail);
            } catch (e) {
                console.error(`weir.js: a '${type}' listener threw`, e);
            }
        }
    }

    _fail(where, error) {
        this.log(`${where}: ${error && error.message ? error.message : error}`);
        this._emit('error', { where, error });
    }

    // ------------------------------------------------------------ transport

    /**
     * Opens the WebSocket. url defaults to /ws on the page's own host
     * (wss on https pages).
     */
    connect(url) {
        if (this.ws)
            throw new WeirError(0, 'connect: already connected');
        this._url = url || this._url || defaultUrl();
        this._closing = false;
        const ws = new WebSocket(this._url, 'weir-v1');
        this.ws = ws;
        ws.addEventListener('message', (ev) => this._onMessage(ev.data));
        ws.addEventListener('close', (ev) => {
            const current = this.ws === ws; // not a socket a rejoin already replaced
            if (current)
                this.ws = null;
            for (const [, p] of this._pending) {
                clearTimeout(p.timer);
                p.reject(new WeirError(0, `${p.method}: connection closed (code ${ev.code})`));
            }
            this._pending.clear();
            this._emit('close', { code: ev.code, reason: ev.reason });
            // A socket that drops without a `bye` while in a room: join again.
            if (current && !this._closing && this.reconnect && this._joinArgs && !this._rejoining)
                this._rejoin(`socket closed (code ${ev.code})`);
        });
        return new Promise((resolve, reject) => {
            ws.addEventListener('open', () => resolve(), { once: true });
            ws.addEventListener('error', () => reject(new WeirError(0, 'connect: WebSocket error')),
                { once: true });
        });
    }

    /** Sends a request; resolves with its result, rejects with a WeirError. */
    request(method, params = {}) {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
            return Promise.reject(new WeirError(0, `${method}: not connected`));
        const id = this._nextId++;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this._pending.delete(id);
                reject(new WeirError(0, `${method}: no answer within ${this.requestTimeoutMs} ms`));
            }, this.requestTimeoutMs);
            this._pending.set(id, { resolve, reject, timer, method });
            this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
        });
    }

    _onMessage(data) {
        let msg;
        try {
            msg = JSON.parse(data);
        } catch (e) {
            this._fail('message', e);
            return;
        }
        if (msg.id !== undefined && msg.id !== null && ('result' in msg || 'error' in msg)) {
            const p = this._pending.get(msg.id);
            if (!p)
                return;
            this._pending.delete(msg.id);
            clearTimeout(p.timer);
            if (msg.error)
                p.reject(new WeirError(msg.error.code, `${p.method}: ${msg.error.message}`,
                    msg.error.data));
            else
                p.resolve(msg.result);
            return;
        }
        if (typeof msg.method !== 'string') {
            if (msg.error)
                this._fail('server', new WeirError(msg.error.code, msg.error.message));
            return;
        }
        const params = msg.params || {};
        switch (msg.method) {
        case 'offer':
            // Outside a room (after `leave` was sent), a late offer belongs to the
            // session that ended: applying it would poison the next subscriber PC.
            if (this._inRoom)
                this._onServerOffer(params.sdp);
            break;
        case 'trickle':
            if (this._inRoom)
                this._onServerTrickle(params.pc, params.candidate);
            break;
        case 'track_published':
            if (params.track)
                this.tracks.set(params.track.id, params.track);
            break;
        case 'track_unpublished':
            if (params.track)
                this.tracks.delete(params.track.id);
            break;
        case 'track_muted': {
            const t = this.tracks.get(params.track);
            if (t)
                t.muted = params.muted;
            break;
        }
        case 'layer_changed':
            this.layers.set(params.track, { spatial: params.spatial, temporal: params.temporal });
            break;
        case 'participant_joined':
            if (params.participant)
                this.participants.set(params.participant.id, params.participant);
            break;
        case 'participant_left':
            if (params.participant)
                this.participants.delete(params.participant.id);
            break;
        case 'bye':
            // The server ends this session on purpose: no rejoin. Except `timeout`:
            // our media path was lost for [media] peer_timeout_s (an ICE failure, not
            // a decision against us), so the socket's close that follows rejoins.
            if (params.reason !== 'timeout')
                this._closing = true;
            break;
        default:
            break;
        }
        this._emit('notification', msg);
        this._emit(msg.method, params);
    }

    // ------------------------------------------------------------ room

    /**
     * Joins a room. opts: {display, token, role}. Resolves with the server's
     * result ({participant, room, participants, tracks, ice_servers}).
     */
    async join(room, opts = {}) {
        const params = { room };
        for (const k of ['display', 'token', 'role'])
            if (opts[k] !== undefined)
                params[k] = opts[k];
        const result = await this.request('join', params);
        this._inRoom = true;
        this._joinArgs = [room, { ...opts }];
        this.participant = result.participant;
        this.room = result.room;
        this.participants.clear();
        for (const p of result.participants || [])
            this.participants.set(p.id, p);
        if (Array.isArray(result.ice_servers) && result.ice_servers.length)
            this.iceServers = result.ice_servers;
        for (const t of result.tracks || [])
            this.tracks.set(t.id, t);
        return result;
    }

    /** Leaves the room and closes both peer connections; the socket stays open. */
    async leave() {
        this._inRoom = false;
        this._joinArgs = null;
        this._published = [];
        this._closePeers('left');
        this._wanted.clear();
        try {
            return await this.request('leave');
        } finally {
            this.participant = null;
            this.room = null;
            this.tracks.clear();
            this.participants.clear();
            this.layers.clear();
        }
    }

    /** Closes everything (peer connections and the WebSocket); no reconnection follows. */
    close() {
        this._closing = true;
        this._inRoom = false;
        this._joinArgs = null;
        this._closePeers('closed');
        this._wanted.clear();
        if (this.ws)
            this.ws.close();
    }

    // Closes both PCs; every track received so far is reported as removed and
    // every data channel as closed (reopen: a rejoin will open them again).
    _closePeers(reason, reopen = false) {
        for (const ch of this._channels.values())
            ch._detach(reason, reopen && this._wanted.has(ch.label));
        if (this.publisher)
            this.publisher.close();
        if (this.subscriber)
            this.subscriber.close();
        this.publisher = null;
        this.subscriber = null;
        this._pub = null;
        this._sub = null;
        const gone = [...this.received.values()];
        this.received.clear();
        this._statsPrev.clear();
        for (const d of gone)
            this._emit('trackremoved', { trackId: d.trackId, participant: d.participant, mid: d.mid });
    }

    // ------------------------------------------------------------ recovery

    // A PC failed: restart ICE (publisher: a new offer; subscriber: the server
    // re-offers by itself with new credentials), rejoin when that does not help.
    // A running rejoin owns the PCs it makes (it waits for them itself).
    _onPcState(which, pc) {
        if (!this.reconnect || pc.connectionState !== 'failed' || !this._joinArgs ||
            this._rejoining)
            return;
        if (which === 'publisher' && pc === this.publisher && !this._iceRestarting) {
            this._iceRestarting = true;
            this._emit('reconnecting', { reason: 'publisher ICE failed', attempt: 0 });
            this.restartIce().then(() => this._waitConnected(pc, 10000)).then((ok) => {
                this._iceRestarting = false;
                if (ok)
                    this._emit('reconnected', { how: 'ice-restart', participant: this.participant });
                else if (pc === this.publisher) // else a rejoin (bye timeout) replaced it
                    this._rejoin('publisher ICE restart did not reconnect');
            }, () => {
                this._iceRestarting = false;
                if (pc === this.publisher)
                    this._rejoin('publisher ICE restart refused');
            });
        } else if (which === 'subscriber' && pc === this.subscriber) {
            // Weir re-offers with new ICE credentials (at most every 10 s); give it time.
            this._waitConnected(pc, 15000).then((ok) => {
                if (ok)
                    this._emit('reconnected', { how: 'ice-restart', participant: this.participant });
                else if (pc === this.subscriber)
                    this._rejoin('subscriber ICE did not come back');
            });
        }
    }

    _waitConnected(pc, timeoutMs) {
        return new Promise((resolve) => {
            if (pc.connectionState === 'connected')
                return resolve(true);
            const done = (ok) => {
                clearTimeout(timer);
                pc.removeEventListener('connectionstatechange', check);
                resolve(ok);
            };
            const check = () => {
                if (pc.connectionState === 'connected')
                    done(true);
                else if (pc.connectionState === 'closed')
                    done(false);
            };
            const timer = setTimeout(() => done(false), timeoutMs);
            pc.addEventListener('connectionstatechange', check);
        });
    }

    /**
     * Joins the same room again on a fresh socket and fresh peer connections
     * and publishes the same local tracks again. Runs by itself after a
     * dropped socket or an unrecoverable ICE failure; a page may call it too.
     * The participant id changes (the server sees a new session).
     */
    rejoin(reason = 'requested') {
        return this._rejoin(reason);
    }

    _rejoin(reason) {
        if (this._rejoining)
            return this._rejoining;
        const args = this._joinArgs;
        if (!args)
            return Promise.reject(new WeirError(409, 'rejoin: not in a room'));
        const published = this._published.filter((p) => p.track.readyState === 'live');
        this._rejoining = (async () => {
            let delay = this.reconnectDelayMs;
            for (let attempt = 1; attempt <= this.reconnectAttempts; attempt++) {
                this._emit('reconnecting', { reason, attempt });
                this._inRoom = false;
                this._closePeers('rejoin', true);
                this._published = [];
                const old = this.ws;
                this.ws = null;
                if (old) {
                    this._closing = true; // this close is ours
                    old.close();
                }
                try {
                    await this.connect();
                    this._joinArgs = args;
                    await this.join(args[0], args[1]);
                    for (const p of published)
                        await this._addTracks(p.stream, [p.track], { simulcast: p.simulcast,
                            source: p.source });
                    // Data channels again (the server replays their history).
                    if (this._wanted.size)
                        await this.openChannels([...this._wanted]);
                    // Done only once media flows again: while the path is still down
                    // this attempt fails and the next one (after the delay) starts over.
                    if (this.publisher && !(await this._waitConnected(this.publisher,
                        this.reconnectConnectMs)))
                        throw new WeirError(0, 'the new publisher connection did not connect ' +
                            `within ${this.reconnectConnectMs} ms`);
                    if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
                        throw new WeirError(0, 'the socket closed during the attempt');
                    this._emit('reconnected', { how: 'rejoin', participant: this.participant });
                    return this.participant;
                } catch (e) {
                    this.log(`rejoin attempt ${attempt}: ${e.message}`);
                    if (e instanceof WeirError && [401, 403, 404, 503].includes(e.code))
                        throw e; // the server said no: retrying will not help
                    await new Promise((r) => setTimeout(r, delay));
                    delay *= 2;
                }
            }
            throw new WeirError(0, `rejoin: gave up after ${this.reconnectAttempts} attempts`);
        })();
        this._rejoining.catch((e) => {
            for (const ch of this._channels.values())
                ch._detach('rejoin failed', false);
            this._fail('rejoin', e);
        }).finally(() => {
            this._rejoining = null;
        });
        return this._rejoining;
    }

    _newPeer(which) {
        const pc = new RTCPeerConnection({
            iceServers: this.iceServers,
            bundlePolicy: 'max-bundle',
            rtcpMuxPolicy: 'require',
        });
        pc.addEventListener('connectionstatechange', () => {
            this._emit('connectionstatechange', { pc: which, state: pc.connectionState });
            this._onPcState(which, pc);
        });
        return pc;
    }

    // Local candidates are held until the server can take them (after the
    // publish result / the answer call), then sent in order; null = end.
    _wireLocalCandidates(pc, which, state) {
        pc.addEventListener('icecandidate', (ev) => {
            const c = ev.candidate;
            if (c && !c.candidate)
                return; // an empty candidate marks a generation's end: the null follows
            const candidate = c ? c.toJSON() : null;
            if (state.ready)
                this._sendCandidate(which, candidate);
            else
                state.localQueue.push(candidate);
        });
    }

    _sendCandidate(which, candidate) {
        this.request('trickle', { pc: which, candidate }).catch((e) =>
            this._fail(`trickle ${which}`, e));
    }

    _flushLocal(which, state) {
        state.ready = true;
        for (const c of state.localQueue.splice(0))
            this._sendCandidate(which, c);
    }

    // ------------------------------------------------------------ publishing

    /**
     * Publishes the tracks of a MediaStream on the publisher PC (created on
     * first use; later calls add tracks to it and renegotiate with another
     * `publish`).
     * opts:
     *   simulcast   true (default): video with DEFAULT_SIMULCAST (rids q/h/f);
     *               false: one encoding; or an array of RTCRtpEncodingParameters
     *               (lowest resolution first)
     *   sources     {[MediaStreamTrack id]: 'camera'|'microphone'|'screen'};
     *               default by kind
     *   source      one source for every track of this call (e.g. 'screen')
     *   tracks      publish only these tracks of the stream
     *   dataChannels labels of data channels to open too (e.g. ['whiteboard']),
     *               as openChannels() does
     * Resolves with {pc, transceivers, channels} (the transceivers of this
     * call; channels: label → RoomChannel for opts.dataChannels).
     */
    async publish(stream, opts = {}) {
        const tracks = opts.tracks || stream.getTracks();
        return this._addTracks(stream, tracks, opts);
    }

    /**
     * Publishes a screen share: a MediaStream (from getDisplayMedia, or any
     * video track such as a canvas capture) as source "screen", one encoding
     * unless opts.simulcast says otherwise. When the track ends (the browser's
     * "stop sharing" button) it is unpublished by itself.
     */
    async publishScreen(streamOrTrack, opts = {}) {
        const stream = streamOrTrack instanceof MediaStream ? streamOrTrack :
            new MediaStream([streamOrTrack]);
        const res = await this._addTracks(stream, stream.getTracks(),
            { simulcast: false, ...opts, source: 'screen' });
        for (const t of res.transceivers) {
            const track = t.sender.track;
            track.addEventListener('ended', () => {
                if (this.publisher && !t.stopped && t.currentDirection !== 'stopped')
                    this.unpublish(t).catch((e) => this._fail('unpublish screen', e));
            }, { once: true });
        }
        return res;
    }

    /**
     * Stops publishing tracks: a transceiver, a MediaStreamTrack, or an array
     * of either. Their m-lines are stopped and a renegotiating `publish`
     * follows; the server unpublishes them (`track_unpublished` to the room).
     * The local tracks are not stopped.
     */
    async unpublish(what) {
        const items = Array.isArray(what) ? what : [what];
        const pc = this.publisher;
        if (!pc)
            throw new WeirError(409, 'unpublish: not publishing');
        const stop = [];
        for (const it of items) {
            const entry = this._published.find((p) => p.transceiver === it || p.track === it);
            if (entry)
                stop.push(entry);
        }
        if (!stop.length)
            throw new WeirError(404, 'unpublish: not a published track of this client');
        this._published = this._published.filter((p) => !stop.includes(p));
        for (const p of stop)
            p.transceiver.stop();
        await this._negotiatePublisher();
    }

    /** The local tracks being published: [{track, source, mid, transceiver}]. */
    publishedTracks() {
        return this._published.map((p) => ({ track: p.track, source: p.source,
            mid: p.transceiver.mid, transceiver: p.transceiver }));
    }

    async _addTracks(stream, tracks, opts) {
        const simulcast = opts.simulcast === undefined ? true : opts.simulcast;
        const pc = this._ensurePublisher();
        const added = [];
        for (const track of tracks) {
            const init = { direction: 'sendonly', streams: [stream] };
            if (track.kind === 'video' && simulcast)
                init.sendEncodings = (Array.isArray(simulcast) ? simulcast : DEFAULT_SIMULCAST)
                    .map((e) => ({ ...e }));
            const source = opts.source || (opts.sources && opts.sources[track.id]) ||
                (track.kind === 'audio' ? 'microphone' : 'camera');
            const transceiver = pc.addTransceiver(track, init);
            const entry = { transceiver, track, stream, source, simulcast };
            this._published.push(entry);
            added.push(entry);
        }
        const channels = {};
        for (const label of opts.dataChannels || []) {
            this._wanted.add(label);
            channels[label] = this.channel(label);
        }
        // Wanted channels ride in the same offer (and after a rejoin, come back here).
        this._createChannels(pc);
        try {
            await this._negotiatePublisher();
        } catch (e) {
            // The server refused: take the new tracks out again.
            this._published = this._published.filter((p) => !added.includes(p));
            for (const p of added)
                if (this.publisher === pc)
                    p.transceiver.stop();
            throw e;
        }
        return { pc, transceivers: added.map((t) => t.transceiver), channels };
    }

    // The publisher PC, created on first use.
    _ensurePublisher() {
        if (this.publisher)
            return this.publisher;
        const pc = this._newPeer('publisher');
        const state = { ready: false, localQueue: [], remoteQueue: [], queue: new SerialQueue() };
        this.publisher = pc;
        this._pub = state;
        this._wireLocalCandidates(pc, 'publisher', state);
        return pc;
    }

    // One offer/answer round on the publisher PC, with the `tracks` hint of
    // every live transceiver (a hint applies to its offer only). needed, when
    // given, is asked inside the queue (after earlier rounds): false skips.
    _negotiatePublisher(offerOptions, needed) {
        const pc = this.publisher;
        const state = this._pub;
        return state.queue.push(async () => {
            if (needed && !needed())
                return;
            await pc.setLocalDescription(await pc.createOffer(offerOptions));
            const tracks = this._published.filter((p) => p.transceiver.mid !== null &&
                !p.transceiver.stopped).map((p) => ({ mid: p.transceiver.mid, source: p.source }));
            const params = { sdp: pc.localDescription.sdp };
            if (tracks.length)
                params.tracks = tracks;
            let result;
            try {
                result = await this.request('publish', params);
            } catch (e) {
                // Refused: the server keeps its state; go back to stable.
                if (pc.signalingState === 'have-local-offer')
                    await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
                throw e;
            }
            await pc.setRemoteDescription({ type: 'answer', sdp: result.sdp });
            // Weir lists the publisher's own tracks ({id, mid, ...}) in the result.
            for (const t of Array.isArray(result.tracks) ? result.tracks : []) {
                const p = this._published.find((x) => x.transceiver.mid === t.mid);
                if (p && t.id)
                    p.weirId = t.id;
            }
            if (!state.ready) {
                this._flushLocal('publisher', state);
                for (const c of state.remoteQueue.splice(0))
                    await this._addRemoteCandidate(pc, c, 'publisher');
            }
        });
    }

    /**
     * ICE restart of the publisher connection (after a network change): a
     * new offer with new ICE credentials on the same connection; the server
     * answers with new ones of its own and media carries on over DTLS-SRTP
     * as before. Track sources stay as they were. Runs by itself when the
     * publisher connection fails (option reconnect).
     */
    async restartIce() {
        if (!this.publisher)
            throw new WeirError(409, 'restartIce: not publishing');
        await this._negotiatePublisher({ iceRestart: true });
    }

    /**
     * A publisher-side mute (the server tells the room with `track_muted`).
     * trackId: a Weir track id. A MediaStreamTrack that this client publishes
     * is accepted too: it is muted locally (track.enabled) and, when its
     * Weir id is known (`trackIdOf`), on the server as well.
     */
    async mute(trackId, muted) {
        if (typeof trackId !== 'string') {
            const local = trackId;
            local.enabled = !muted;
            const id = this.trackIdOf(local);
            if (!id)
                return { local: true };
            trackId = id;
        }
        return this.request('mute', { track: trackId, muted: !!muted });
    }

    /**
     * The Weir track id of a local published track, from the `tracks` member
     * of the `publish` result (a Weir addition to protocol version 1: each
     * entry has the `mid` of its m-line and the track `id`); null before the
     * answer or from a server that does not send it.
     */
    trackIdOf(localTrack) {
        const p = this._published.find((x) => x.track === localTrack);
        return (p && p.weirId) || null;
    }

    // ------------------------------------------------------------ data channels

    /**
     * The RoomChannel of a label (created on first use, the same object for
     * the whole life of this client). `whiteboard` and `chat` are stamped by
     * the server; any other label is relayed as is to the others.
     */
    channel(label) {
        let ch = this._channels.get(label);
        if (ch)
            return ch;
        const opts = {
            stamped: label === 'whiteboard' || label === 'chat',
            maxMessageSize: () => (this.publisher && this.publisher.sctp ?
                this.publisher.sctp.maxMessageSize : 0),
            log: this.log,
        };
        if (label === 'chat') {
            // The sender's display name rides along: the history outlives the
            // participant ids it came from. It is a claim, `from` is the stamp.
            opts.encode = (text) => JSON.stringify({ text: String(text),
                name: this.participant ? this.participant.display : '' });
            opts.decorate = (m) => {
                const d = m.data;
                const obj = d && typeof d === 'object' && !Array.isArray(d);
                m.text = typeof d === 'string' ? d : obj && typeof d.text === 'string' ? d.text :
                    JSON.stringify(d);
                m.name = obj && typeof d.name === 'string' ? d.name : null;
                return m;
            };
        }
        ch = new RoomChannel(label, opts);
        ch._onLost = (c) => this._channelLost(c);
        this._channels.set(label, ch);
        return ch;
    }

    /**
     * Opens data channels (ordered, reliable) on the publisher PC: default
     * `whiteboard` and `chat`. A participant that publishes no media gets a
     * publisher PC with data channels only. The channels stay open through
     * later `publish` renegotiations and ICE restarts, and are opened again
     * after a rejoin (the server then replays their history: each RoomChannel
     * emits 'open' again). Resolves with {label: RoomChannel} once the server
     * answered; each channel emits 'open' when it is ready.
     */
    async openChannels(labels = ['whiteboard', 'chat']) {
        if (!this._inRoom)
            throw new WeirError(409, 'openChannels: not in a room');
        const fresh = labels.filter((l) => !this._wanted.has(l));
        for (const l of labels)
            this._wanted.add(l);
        const pc = this._ensurePublisher();
        this._createChannels(pc);
        try {
            await this._negotiateSctp(pc);
        } catch (e) {
            for (const l of fresh) {
                this._wanted.delete(l);
                this.channel(l)._detach('refused', false);
            }
            throw e;
        }
        return Object.fromEntries(labels.map((l) => [l, this.channel(l)]));
    }

    // The first channel needs an offer (it adds the m=application); later
    // ones open on the SCTP association already negotiated (pc.sctp).
    _negotiateSctp(pc) {
        return this._negotiatePublisher(undefined, () => this.publisher === pc && !pc.sctp);
    }

    // A new RTCDataChannel for every wanted label without a live one.
    _createChannels(pc) {
        for (const label of this._wanted) {
            const ch = this.channel(label);
            if (ch.dc && ch.dc.readyState !== 'closing' && ch.dc.readyState !== 'closed')
                continue;
            ch._attach(pc.createDataChannel(label, { ordered: true }));
        }
    }

    // The server closed a channel (a stream reset: its send queue overflowed,
    // or a message was over the size it announced). Open it again after a
    // pause unless that keeps happening; true when it will be reopened.
    _channelLost(ch) {
        const pc = this.publisher;
        if (!pc || !this._wanted.has(ch.label) || !this._inRoom || this._closing)
            return false;
        const stable = ch.openedAt && Date.now() - ch.openedAt > CHANNEL_STABLE_MS;
        ch._losses = stable ? 1 : (ch._losses || 0) + 1;
        if (ch._losses > CHANNEL_REOPENS) {
            this._fail(`channel ${ch.label}`, new WeirError(0, `${ch.label}: closed by the ` +
                `server ${CHANNEL_REOPENS} times in a row; not opened again`));
            return false;
        }
        const delay = CHANNEL_REOPEN_DELAY_MS * 2 ** (ch._losses - 1);
        this.log(`${ch.label}: closed by the server, opening it again in ${delay} ms`);
        setTimeout(() => {
            if (this.publisher !== pc || !this._wanted.has(ch.label) || ch.dc ||
                pc.connectionState === 'closed')
                return;
            this._createChannels(pc);
            this._negotiateSctp(pc).catch((e) => this._fail(`channel ${ch.label}`, e));
        }, delay);
        return true;
    }

    // ------------------------------------------------------------ moderation

    /** Teacher only: action 'mute' | 'kick' | 'allow_publish' | 'deny_publish'. */
    moderate(action, participant, track) {
        const params = { action, participant };
        if (track !== undefined)
            params.track = track;
        return this.request('moderate', params);
    }

    kick(participant) { return this.moderate('kick', participant); }
    muteParticipant(participant, track) { return this.moderate('mute', participant, track); }
    allowPublish(participant) { return this.moderate('allow_publish', participant); }
    denyPublish(participant) { return this.moderate('deny_publish', participant); }

    // ------------------------------------------------------------ statistics

    /**
     * Connection statistics per track, from both peer connections' getStats():
     *   { received: [{trackId, participant, kind, source, width, height, fps,
     *                 bitrate (bit/s since the previous call), packetsReceived,
     *                 packetsLost, lossPercent, framesDecoded, jitter,
     *                 layer {spatial, temporal}|null, rtt (s)|null, quality}],
     *     sent: [{mid, kind, source, rid, width, height, fps, bitrate, packetsSent,
     *             qualityLimitationReason, rtt|null}],
     *     rtt: {publisher, subscriber} (s, the ICE candidate pair) }
     * quality is 'good', 'fair' or 'poor' (loss, round-trip time and, for
     * video, frame rate; see docs/client-js.md).
     */
    async getStats() {
        const now = performance.now();
        const out = { received: [], sent: [], rtt: { publisher: null, subscriber: null } };
        const rate = (id, bytes) => {
            const prev = this._statsPrev.get(id);
            this._statsPrev.set(id, { bytes, t: now });
            if (!prev || now <= prev.t || bytes < prev.bytes)
                return null;
            return Math.round((bytes - prev.bytes) * 8000 / (now - prev.t));
        };
        const pairRtt = (report) => {
            let rtt = null;
            report.forEach((s) => {
                if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' &&
                    typeof s.currentRoundTripTime === 'number')
                    rtt = s.currentRoundTripTime;
            });
            return rtt;
        };
        if (this.subscriber) {
            const pc = this.subscriber;
            const report = await pc.getStats();
            const rtt = pairRtt(report);
            out.rtt.subscriber = rtt;
            const byMid = new Map();
            for (const d of this.received.values())
                byMid.set(d.mid, d);
            report.forEach((s) => {
                if (s.type !== 'inbound-rtp' || !byMid.has(s.mid))
                    return;
                const d = byMid.get(s.mid);
                const lost = Math.max(0, s.packetsLost || 0);
                const total = lost + (s.packetsReceived || 0);
                const info = this.tracks.get(d.trackId) || d.info || {};
                const e = {
                    trackId: d.trackId, participant: d.participant, kind: s.kind,
                    source: info.source || null, muted: !!info.muted,
                    width: s.frameWidth ?? null, height: s.frameHeight ?? null,
                    fps: s.framesPerSecond ?? null, framesDecoded: s.framesDecoded ?? null,
                    bitrate: rate(`in-${d.trackId}`, s.bytesReceived || 0),
                    packetsReceived: s.packetsReceived || 0, packetsLost: lost,
                    lossPercent: total ? (100 * lost) / total : 0,
                    jitter: s.jitter ?? null, layer: this.layers.get(d.trackId) || null, rtt,
                };
                e.quality = quality(e);
                out.received.push(e);
            });
        }
        if (this.publisher) {
            const report = await this.publisher.getStats();
            out.rtt.publisher = pairRtt(report);
            const remote = new Map();
            report.forEach((s) => {
                if (s.type === 'remote-inbound-rtp')
                    remote.set(s.localId, s);
            });
            report.forEach((s) => {
                if (s.type !== 'outbound-rtp')
                    return;
                const p = this._published.find((x) => x.transceiver.mid === s.mid);
                const r = remote.get(s.id);
                out.sent.push({
                    mid: s.mid, kind: s.kind, source: p ? p.source : null, rid: s.rid || null,
                    width: s.frameWidth ?? null, height: s.frameHeight ?? null,
                    fps: s.framesPerSecond ?? null, packetsSent: s.packetsSent || 0,
                    bitrate: rate(`out-${s.id}`, s.bytesSent || 0),
                    qualityLimitationReason: s.qualityLimitationReason ?? null,
                    rtt: r && typeof r.roundTripTime === 'number' ? r.roundTripTime : out.rtt.publisher,
                });
            });
        }
        return out;
    }

    /** The getStats() entry of one received track (by Weir track id), or null. */
    async trackStats(trackId) {
        const s = await this.getStats();
        return s.received.find((e) => e.trackId === trackId) || null;
    }

    // ------------------------------------------------------------ receiving

    /** What to receive of one track: {max_spatial, max_temporal, paused} (any of them). */
    setPreferences(trackId, prefs = {}) {
        const params = { track: trackId };
        for (const k of ['max_spatial', 'max_temporal', 'paused'])
            if (prefs[k] !== undefined)
                params[k] = prefs[k];
        return this.request('set_preferences', params);
    }

    subscribe(trackIds) {
        return this.request('subscribe', { tracks: trackIds });
    }

    unsubscribe(trackIds) {
        return this.request('unsubscribe', { tracks: trackIds });
    }

    _ensureSubscriber() {
        if (this.subscriber)
            return this._sub;
        const pc = this._newPeer('subscriber');
        const state = {
            ready: false, localQueue: [], remoteQueue: [], queue: new SerialQueue(),
            msid: new Map(), // mid → {stream, track} of the latest offer
            live: new Map(), // mid → Weir track id being received
        };
        this.subscriber = pc;
        this._sub = state;
        this._wireLocalCandidates(pc, 'subscriber', state);
        pc.addEventListener('track', (ev) => this._onRemoteTrack(ev, state));
        return state;
    }

    _onRemoteTrack(ev, state) {
        const mid = ev.transceiver.mid;
        const ids = state.msid.get(mid) || {};
        const trackId = ids.track || ev.track.id;
        const stream = ev.streams[0] || new MediaStream([ev.track]);
        const detail = {
            track: ev.track,
            stream,
            trackId,
            participant: ids.stream || null,
            kind: ev.track.kind,
            mid,
            info: this.tracks.get(trackId) || null,
            transceiver: ev.transceiver,
        };
        state.live.set(mid, trackId);
        this.received.set(trackId, detail);
        this._emit('track', detail);
    }

    // After each negotiation: what was received on an m-line that is now
    // inactive, rejected (port 0: Chromium drops that transceiver) or carries
    // another track ends.
    _reconcile(pc, state) {
        const byMid = new Map(pc.getTransceivers().map((t) => [t.mid, t]));
        for (const [mid, was] of [...state.live]) {
            const t = byMid.get(mid);
            const now = state.msid.get(mid);
            const gone = !t || t.stopped || t.currentDirection === 'inactive' ||
                t.currentDirection === 'stopped' || !now || now.track !== was;
            if (!gone)
                continue;
            state.live.delete(mid);
            const detail = this.received.get(was);
            if (detail && detail.mid === mid)
                this.received.delete(was);
            this._emit('trackremoved', {
                trackId: was, participant: detail ? detail.participant : null, mid,
            });
        }
    }

    _onServerOffer(sdp) {
        const state = this._ensureSubscriber();
        const pc = this.subscriber;
        state.queue.push(async () => {
            const previous = state.msid;
            state.msid = msidByMid(sdp);
            try {
                await pc.setRemoteDescription({ type: 'offer', sdp });
            } catch (e) {
                state.msid = previous;
                throw e;
            }
            await pc.setLocalDescription(await pc.createAnswer());
            await this.request('answer', { sdp: pc.localDescription.sdp });
            this._reconcile(pc, state);
            this._flushLocal('subscriber', state);
            for (const c of state.remoteQueue.splice(0))
                await this._addRemoteCandidate(pc, c, 'subscriber');
        }).catch((e) => this._fail('subscriber offer', e));
    }

    _onServerTrickle(which, candidate) {
        const state = which === 'publisher' ? this._pub :
            which === 'subscriber' ? this._ensureSubscriber() : null;
        const pc = which === 'publisher' ? this.publisher : this.subscriber;
        if (!state || !pc)
            return;
        // Candidates wait for the remote description they belong to.
        state.queue.push(async () => {
            if (pc.remoteDescription)
                await this._addRemoteCandidate(pc, candidate, which);
            else
                state.remoteQueue.push(candidate);
        });
    }

    async _addRemoteCandidate(pc, candidate, which) {
        try {
            // No argument = end of candidates (older Chromium refuses an explicit null).
            if (candidate)
                await pc.addIceCandidate(candidate);
            else
                await pc.addIceCandidate();
        } catch (e) {
            this._fail(`addIceCandidate ${which}`, e);
        }
    }
}

export default WeirClient;
