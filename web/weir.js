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
//   weir.on('track', ({ track, stream, trackId, participant, kind }) => {
//       videoElement.srcObject = stream;
//   });
//   weir.on('layer_changed', ({ track, spatial, temporal }) => { ... });
//   await weir.connect();                 // ws(s)://<this page's host>/ws
//   const { participant, tracks } = await weir.join('physics-101', { display: 'Ada' });
//   const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
//   await weir.publish(media);            // simulcast rids q/h/f
//   await weir.setPreferences(trackId, { max_spatial: 0 });
//   await weir.leave();
//   weir.close();
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
//   trackremoved   Weir stopped sending a track: { trackId, participant, mid }
//   connectionstatechange  { pc: 'publisher'|'subscriber', state }
//   close          the WebSocket closed: { code, reason }
//   error          a failure outside any caller's promise (e.g. a server offer
//                  the browser refused): { where, error }
//
// Errors from requests reject with a WeirError carrying the JSON-RPC `code`.

/** A JSON-RPC error answered by the server (or a local protocol failure). */
export class WeirError extends Error {
    constructor(code, message, data) {
        super(message);
        this.name = 'WeirError';
        this.code = code;
        this.data = data;
    }
}

/** The simulcast encodings publish() uses: rids q/h/f at 1/4, 1/2 and full resolution. */
export const DEFAULT_SIMULCAST = Object.freeze([
    Object.freeze({ rid: 'q', scaleResolutionDownBy: 4 }),
    Object.freeze({ rid: 'h', scaleResolutionDownBy: 2 }),
    Object.freeze({ rid: 'f', scaleResolutionDownBy: 1 }),
]);

const REQUEST_TIMEOUT_MS = 15000;

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
        const ws = new WebSocket(url || defaultUrl(), 'weir-v1');
        this.ws = ws;
        ws.addEventListener('message', (ev) => this._onMessage(ev.data));
        ws.addEventListener('close', (ev) => {
            for (const [, p] of this._pending) {
                clearTimeout(p.timer);
                p.reject(new WeirError(0, `${p.method}: connection closed (code ${ev.code})`));
            }
            this._pending.clear();
            this._emit('close', { code: ev.code, reason: ev.reason });
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
            this._onServerOffer(params.sdp);
            break;
        case 'trickle':
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
        this.participant = result.participant;
        this.room = result.room;
        if (Array.isArray(result.ice_servers) && result.ice_servers.length)
            this.iceServers = result.ice_servers;
        for (const t of result.tracks || [])
            this.tracks.set(t.id, t);
        return result;
    }

    /** Leaves the room and closes both peer connections; the socket stays open. */
    async leave() {
        this._closePeers();
        const result = await this.request('leave');
        this.participant = null;
        this.room = null;
        this.tracks.clear();
        return result;
    }

    /** Closes everything (peer connections and the WebSocket). */
    close() {
        this._closePeers();
        if (this.ws)
            this.ws.close();
    }

    _closePeers() {
        if (this.publisher)
            this.publisher.close();
        if (this.subscriber)
            this.subscriber.close();
        this.publisher = null;
        this.subscriber = null;
        this._pub = null;
        this._sub = null;
        this.received.clear();
    }

    _newPeer(which) {
        const pc = new RTCPeerConnection({
            iceServers: this.iceServers,
            bundlePolicy: 'max-bundle',
            rtcpMuxPolicy: 'require',
        });
        pc.addEventListener('connectionstatechange', () =>
            this._emit('connectionstatechange', { pc: which, state: pc.connectionState }));
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
     * Publishes a MediaStream on the publisher PC (created on first use).
     * opts:
     *   simulcast   true (default): video with DEFAULT_SIMULCAST (rids q/h/f);
     *               false: one encoding; or an array of RTCRtpEncodingParameters
     *   sources     {[trackId]: 'camera'|'microphone'|'screen'}; default by kind
     *   dataChannels labels of data channels to open too (e.g. ['whiteboard'])
     * Resolves with {pc, transceivers, channels}.
     */
    async publish(stream, opts = {}) {
        if (this.publisher)
            throw new WeirError(409, 'publish: already publishing (renegotiation is not supported yet)');
        const simulcast = opts.simulcast === undefined ? true : opts.simulcast;
        const pc = this._newPeer('publisher');
        const state = { ready: false, localQueue: [], remoteQueue: [], queue: new SerialQueue() };
        this.publisher = pc;
        this._pub = state;
        this._wireLocalCandidates(pc, 'publisher', state);

        const transceivers = [];
        for (const track of stream.getTracks()) {
            const init = { direction: 'sendonly', streams: [stream] };
            if (track.kind === 'video' && simulcast)
                init.sendEncodings = (Array.isArray(simulcast) ? simulcast : DEFAULT_SIMULCAST)
                    .map((e) => ({ ...e }));
            const source = (opts.sources && opts.sources[track.id]) ||
                (track.kind === 'audio' ? 'microphone' : 'camera');
            transceivers.push({ transceiver: pc.addTransceiver(track, init), source });
        }
        const channels = {};
        for (const label of opts.dataChannels || [])
            channels[label] = pc.createDataChannel(label, { ordered: true });

        await state.queue.push(async () => {
            await pc.setLocalDescription(await pc.createOffer());
            const tracks = transceivers.map(({ transceiver, source }) =>
                ({ mid: transceiver.mid, source }));
            const result = await this.request('publish', { sdp: pc.localDescription.sdp, tracks });
            await pc.setRemoteDescription({ type: 'answer', sdp: result.sdp });
            this._flushLocal('publisher', state);
            for (const c of state.remoteQueue.splice(0))
                await this._addRemoteCandidate(pc, c, 'publisher');
        });
        return { pc, transceivers: transceivers.map((t) => t.transceiver), channels };
    }

    /**
     * ICE restart of the publisher connection (after a network change): a
     * new offer with new ICE credentials on the same connection; the server
     * answers with new ones of its own and media carries on over DTLS-SRTP
     * as before. Track sources stay as they were.
     */
    async restartIce() {
        const pc = this.publisher;
        if (!pc)
            throw new WeirError(409, 'restartIce: not publishing');
        await this._pub.queue.push(async () => {
            await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
            const result = await this.request('publish', { sdp: pc.localDescription.sdp });
            await pc.setRemoteDescription({ type: 'answer', sdp: result.sdp });
        });
    }

    /** A publisher-side mute (the server tells the room with `track_muted`). */
    mute(trackId, muted) {
        return this.request('mute', { track: trackId, muted: !!muted });
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
