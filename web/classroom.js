// The classroom page at GET / (web/index.html): join form, the whiteboard
// and chat (classroom-board.js), a video column with the teacher (or a screen
// share) large, microphone / camera / screen-share toggles, per-tile overlay
// (layer and bitrate received), a connection-quality badge per participant,
// clear error messages. Built on weir.js only.
//
// Everyone opens the `whiteboard` and `chat` data channels, with or without a
// camera: a student who joins without one (or whose browser denied it) still
// watches, draws and chats, and may start the camera later.
//
// window.classroom exposes the client, the board and the chat panel to tests
// and to the browser console.

import { WeirClient, WeirError } from '/weir.js';
import { ClassroomBoard } from '/classroom-board.js';

const $ = (sel) => document.querySelector(sel);
window.classroomErrors = [];

const ui = {
    lobby: $('#lobby'), form: $('#join-form'), error: $('#join-error'), classroom: $('#classroom'),
    grid: $('#grid'), roomLabel: $('#room-label'), conn: $('#conn-state'), roomError: $('#room-error'),
    mic: $('#btn-mic'), camera: $('#btn-camera'), screen: $('#btn-screen'), leave: $('#btn-leave'),
};

let client = null;
let media = null; // the local camera + microphone stream
let share = null; // {stream, transceivers} while sharing the screen
let statsTimer = null;
const people = new Map(); // participant id → {id, display, role}
const tiles = new Map(); // key (participant id, or 'screen:'+track id, or 'local') → tile element
const board = new ClassroomBoard((text) => window.classroomErrors.push(text));
window.classroom = { board, get client() { return client; }, get media() { return media; } };

// Prefill from the URL: /?room=physics-101&name=Ada&token=...
const q = new URLSearchParams(location.search);
for (const k of ['room', 'name', 'token', 'role'])
    if (q.get(k))
        $(`#${k}`).value = q.get(k);

function explain(e) {
    if (e && e.name === 'NotAllowedError')
        return 'Camera and microphone access was denied, so you are not on camera. You can still ' +
            'watch, draw on the whiteboard and chat. To go on camera, allow the camera and ' +
            'microphone for this site in the browser settings, then press "Start camera".';
    if (e && e.name === 'NotFoundError')
        return 'No camera or microphone was found. You can still watch, draw on the whiteboard ' +
            'and chat.';
    if (e && e.name === 'NotReadableError')
        return 'The camera or microphone is in use by another application.';
    if (e instanceof WeirError) {
        switch (e.code) {
        case 401: return 'The join token is missing, invalid or expired. Ask your teacher for a new link.';
        case 403: return 'You are not allowed to do that in this room (ask the teacher).';
        case 404: return 'There is no such room. Check the room name.';
        case 409: return 'You are already in this room (in another tab?).';
        case 429: return 'Too many requests: wait a moment and try again.';
        case 503: return 'The room is full, or the server is at capacity. Try again later.';
        default:
            if (/connect|connection closed/.test(e.message))
                return 'Cannot reach the classroom server. Check your network and try again.';
            return e.message;
        }
    }
    return String((e && e.message) || e);
}

function showError(el, e) {
    const text = typeof e === 'string' ? e : explain(e);
    window.classroomErrors.push(text);
    el.textContent = text;
    el.hidden = false;
}

function setConn(text, bad = false) {
    ui.conn.hidden = false;
    ui.conn.textContent = text;
    ui.conn.classList.toggle('bad', bad);
}

// ------------------------------------------------------------ tiles

function makeTile(key, { display, role, local = false, screen = false }) {
    let tile = tiles.get(key);
    if (tile)
        return tile;
    tile = document.createElement('div');
    tile.className = 'tile';
    tile.dataset.key = key;
    tile.classList.toggle('local', local);
    tile.classList.toggle('screen', screen);
    tile.classList.toggle('teacher', role === 'teacher' && !screen);
    const initials = (display || '?').split(/\s+/).map((w) => w[0]).join('').slice(0, 2).toUpperCase();
    tile.innerHTML = `<video autoplay playsinline muted></video>
        <div class="placeholder"></div>
        <div class="overlay" hidden></div>
        <span class="badge" hidden></span>
        <div class="label"><span class="name"></span><span class="role"></span>
        <span class="mic-off" hidden>MIC OFF</span></div>`;
    tile.querySelector('.placeholder').textContent = initials;
    tile.querySelector('.name').textContent = screen ? `${display} — screen` : local ? `${display} (you)` : display;
    tile.querySelector('.role').textContent = role && !screen ? role : '';
    tiles.set(key, tile);
    // The teacher's (and a screen share's) tile comes first: the big corner of the grid.
    if (screen || role === 'teacher')
        ui.grid.prepend(tile);
    else
        ui.grid.append(tile);
    return tile;
}

function removeTile(key) {
    const tile = tiles.get(key);
    if (tile)
        tile.remove();
    tiles.delete(key);
}

function attach(tile, track) {
    const video = tile.querySelector('video');
    let stream = video.srcObject;
    if (!stream) {
        stream = new MediaStream();
        video.srcObject = stream;
    }
    for (const t of stream.getTracks())
        if (t.kind === track.kind)
            stream.removeTrack(t);
    stream.addTrack(track);
    if (track.kind === 'audio' && !tile.classList.contains('local'))
        video.muted = false;
    video.play().catch(() => {
        // Autoplay with sound may be blocked until the user clicks: keep the video, muted.
        video.muted = true;
        video.play().catch(() => {});
    });
    tile.querySelector('.placeholder').hidden = stream.getVideoTracks().length > 0;
}

// ------------------------------------------------------------ joining

ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.error.hidden = true;
    const button = $('#join-button');
    button.disabled = true;
    try {
        await join($('#room').value.trim(), $('#name').value.trim(), $('#token').value.trim(),
            $('#role').value, $('#with-media').checked);
    } catch (e) {
        showError(ui.error, e);
        teardown();
    } finally {
        button.disabled = false;
    }
});

async function join(room, display, token, role, withMedia) {
    client = new WeirClient();
    wireEvents(client);
    await client.connect();
    const opts = { display };
    if (token)
        opts.token = token;
    else
        opts.role = role;
    const joined = await client.join(room, opts);
    const me = joined.participant;
    for (const p of joined.participants)
        people.set(p.id, p);
    ui.lobby.hidden = true;
    ui.classroom.hidden = false;
    ui.roomLabel.textContent = `Room ${room} · ${me.display} (${me.role})`;
    history.replaceState(null, '', `?room=${encodeURIComponent(room)}`);
    for (const p of joined.participants)
        makeTile(p.id, p);
    board.attach(client, me, people);
    const mayPublish = me.role === 'teacher' || me.role === 'student';
    ui.screen.disabled = !mayPublish;
    for (const b of [ui.mic, ui.camera, ui.screen])
        b.hidden = !mayPublish; // observers and recorders only watch
    const local = makeTile('local', { display: me.display, role: me.role, local: true });
    statsTimer = setInterval(updateStats, 1000);
    if (mayPublish && withMedia && await startCamera())
        return; // the camera's publish opened the channels too
    setCameraButton();
    await openChannels();
}

// The whiteboard and chat channels without media (a publisher PC with data channels only).
async function openChannels() {
    try {
        await client.openChannels(['whiteboard', 'chat']);
    } catch (e) {
        board.unavailable(`The whiteboard and chat are not available: ${explain(e)}`);
        window.classroomErrors.push(`openChannels: ${e.message}`);
    }
}

// Camera and microphone on, published with the data channels (the first
// `publish`, or a renegotiation when the channels are already open). False
// when the browser gave no camera (the reason is on the page).
async function startCamera() {
    try {
        media = await navigator.mediaDevices.getUserMedia({
            audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 } },
        });
    } catch (e) {
        media = null;
        showError(ui.roomError, e);
        setCameraButton();
        return false;
    }
    const local = tiles.get('local');
    for (const t of media.getTracks())
        attach(local, t);
    setCameraButton();
    try {
        await client.publish(media, { dataChannels: ['whiteboard', 'chat'] });
    } catch (e) {
        showError(ui.roomError, e);
        return false;
    }
    return true;
}

// Without a camera the camera button offers to start it; with one it toggles it.
function setCameraButton() {
    const mayPublish = client && client.participant &&
        ['teacher', 'student'].includes(client.participant.role);
    ui.camera.disabled = !mayPublish;
    ui.mic.disabled = !mayPublish || !media;
    if (!media) {
        ui.camera.setAttribute('aria-pressed', 'false');
        ui.camera.textContent = 'Start camera';
        ui.camera.dataset.start = '1';
    } else if (ui.camera.dataset.start) {
        delete ui.camera.dataset.start;
        ui.camera.textContent = 'Camera off';
    }
}

function wireEvents(c) {
    c.on('participant_joined', ({ participant }) => {
        people.set(participant.id, participant);
        makeTile(participant.id, participant);
    });
    c.on('participant_left', ({ participant }) => {
        people.delete(participant.id);
        removeTile(participant.id);
        for (const [key, tile] of tiles)
            if (tile.dataset.owner === participant.id)
                removeTile(key);
    });
    c.on('track', ({ track, trackId, participant, info }) => {
        const p = people.get(participant) || { id: participant, display: participant, role: '' };
        const screen = info && info.source === 'screen';
        const key = screen ? `screen:${trackId}` : participant;
        const tile = makeTile(key, { display: p.display, role: p.role, screen });
        tile.dataset.owner = participant;
        if (track.kind === 'video')
            tile.dataset.video = trackId;
        else
            tile.dataset.audio = trackId;
        attach(tile, track);
        if (info && info.muted)
            showMuted(trackId, true);
    });
    c.on('trackremoved', ({ trackId }) => {
        removeTile(`screen:${trackId}`);
        for (const tile of tiles.values())
            if (tile.dataset.video === trackId) {
                delete tile.dataset.video;
                tile.querySelector('.placeholder').hidden = false;
                tile.querySelector('.overlay').hidden = true;
            }
    });
    c.on('track_muted', ({ track, muted }) => showMuted(track, muted));
    c.on('active_speaker', ({ participants }) => {
        for (const [key, tile] of tiles)
            tile.classList.toggle('speaking', participants.includes(key) ||
                (key === 'local' && c.participant && participants.includes(c.participant.id)));
    });
    c.on('moderated', ({ action }) => {
        const text = { mute: 'The teacher muted you.', deny_publish: 'The teacher stopped your camera and microphone.',
            allow_publish: 'The teacher allows you to publish again.' }[action];
        if (text)
            showError(ui.roomError, text);
    });
    c.on('bye', ({ reason }) => {
        const text = { kicked: 'You were removed from the room by the teacher.',
            room_closed: 'The room was closed.', shutdown: 'The server is restarting. Join again in a moment.',
            timeout: 'Your connection was lost for too long.' }[reason] || `Disconnected (${reason}).`;
        teardown();
        showError(ui.error, text);
    });
    c.on('connectionstatechange', ({ pc, state }) => {
        if (state === 'failed' || state === 'disconnected')
            setConn(`${pc} connection ${state}`, true);
        else if (state === 'connected')
            setConn('connected');
    });
    c.on('reconnecting', ({ reason }) => setConn(`reconnecting (${reason})…`, true));
    c.on('reconnected', () => setConn('connected'));
    c.on('error', ({ where, error }) => window.classroomErrors.push(`${where}: ${error && error.message}`));
}

function showMuted(trackId, muted) {
    for (const tile of tiles.values()) {
        if (tile.dataset.audio === trackId)
            tile.querySelector('.mic-off').hidden = !muted;
        if (tile.dataset.video === trackId)
            tile.querySelector('.placeholder').hidden = !muted;
    }
}

// ------------------------------------------------------------ statistics

const kbps = (b) => (b === null || b === undefined ? '–' : `${Math.round(b / 1000)} kbps`);

async function updateStats() {
    if (!client)
        return;
    let s;
    try {
        s = await client.getStats();
    } catch {
        return;
    }
    const byTile = new Map();
    for (const r of s.received) {
        const key = r.source === 'screen' ? `screen:${r.trackId}` : r.participant;
        if (!byTile.has(key))
            byTile.set(key, []);
        byTile.get(key).push(r);
    }
    for (const [key, list] of byTile) {
        const tile = tiles.get(key);
        if (!tile)
            continue;
        const v = list.find((x) => x.kind === 'video');
        const a = list.find((x) => x.kind === 'audio');
        const overlay = tile.querySelector('.overlay');
        if (v) {
            const info = client.tracks.get(v.trackId);
            const rid = info && v.layer && info.simulcast ? info.simulcast[v.layer.spatial] : null;
            const layer = v.layer ? (v.layer.spatial < 0 ? 'paused' :
                `layer ${v.layer.spatial}${rid ? ` (${rid})` : ''}`) : 'layer –';
            overlay.textContent = `${layer} · ${v.width || 0}×${v.height || 0} · ` +
                `${Math.round(v.fps || 0)} fps · ${kbps(v.bitrate)}`;
            overlay.hidden = false;
        }
        const q = [v, a].filter(Boolean).map((x) => x.quality);
        const worst = q.includes('poor') ? 'poor' : q.includes('fair') ? 'fair' : 'good';
        const badge = tile.querySelector('.badge');
        const lost = Math.max(...[v, a].filter(Boolean).map((x) => x.lossPercent));
        badge.className = `badge q-${worst}`;
        badge.textContent = worst;
        badge.title = `loss ${lost.toFixed(1)} %, round trip ${s.rtt.subscriber === null ? '–' :
            Math.round(s.rtt.subscriber * 1000) + ' ms'}`;
        badge.hidden = false;
    }
    const local = tiles.get('local');
    const sent = s.sent.filter((x) => x.kind === 'video' && x.source !== 'screen');
    if (local && sent.length) {
        const top = sent.reduce((a, b) => ((b.width || 0) > (a.width || 0) ? b : a));
        const total = sent.reduce((n, x) => n + (x.bitrate || 0), 0);
        const overlay = local.querySelector('.overlay');
        overlay.textContent = `sending ${sent.length} layer${sent.length > 1 ? 's' : ''} · ` +
            `${top.width || 0}×${top.height || 0} · ${kbps(total)}`;
        overlay.hidden = false;
        const badge = local.querySelector('.badge');
        const limited = top.qualityLimitationReason && top.qualityLimitationReason !== 'none';
        badge.className = `badge q-${limited ? 'fair' : 'good'}`;
        badge.textContent = limited ? `limited: ${top.qualityLimitationReason}` : 'good';
        badge.hidden = false;
    }
}

// ------------------------------------------------------------ controls

ui.mic.addEventListener('click', async () => {
    const track = media && media.getAudioTracks()[0];
    if (!track)
        return;
    const muted = ui.mic.getAttribute('aria-pressed') !== 'true';
    ui.mic.setAttribute('aria-pressed', String(muted));
    ui.mic.textContent = muted ? 'Unmute' : 'Mute';
    tiles.get('local').querySelector('.mic-off').hidden = !muted;
    try {
        await client.mute(track, muted);
    } catch (e) {
        showError(ui.roomError, e);
    }
});

ui.camera.addEventListener('click', async () => {
    if (!media) {
        ui.camera.disabled = true;
        ui.roomError.hidden = true;
        await startCamera();
        setCameraButton();
        return;
    }
    const track = media.getVideoTracks()[0];
    if (!track)
        return;
    const off = ui.camera.getAttribute('aria-pressed') !== 'true';
    ui.camera.setAttribute('aria-pressed', String(off));
    ui.camera.textContent = off ? 'Camera on' : 'Camera off';
    tiles.get('local').querySelector('.placeholder').hidden = !off;
    try {
        await client.mute(track, off);
    } catch (e) {
        showError(ui.roomError, e);
    }
});

ui.screen.addEventListener('click', async () => {
    if (share) {
        const s = share;
        share = null;
        ui.screen.setAttribute('aria-pressed', 'false');
        ui.screen.textContent = 'Share screen';
        s.stream.getTracks().forEach((t) => t.stop());
        removeTile('screen:local');
        await client.unpublish(s.transceivers).catch((e) => showError(ui.roomError, e));
        return;
    }
    let stream;
    try {
        stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (e) {
        if (e.name !== 'NotAllowedError') // the user cancelled the picker: say nothing
            showError(ui.roomError, `Screen sharing failed: ${e.message}`);
        return;
    }
    try {
        const res = await client.publishScreen(stream);
        share = { stream, transceivers: res.transceivers };
        ui.screen.setAttribute('aria-pressed', 'true');
        ui.screen.textContent = 'Stop sharing';
        const tile = makeTile('screen:local', { display: 'You', screen: true, local: true });
        attach(tile, stream.getVideoTracks()[0]);
        stream.getVideoTracks()[0].addEventListener('ended', () => {
            if (share && share.stream === stream) {
                share = null;
                ui.screen.setAttribute('aria-pressed', 'false');
                ui.screen.textContent = 'Share screen';
                removeTile('screen:local');
            }
        });
    } catch (e) {
        stream.getTracks().forEach((t) => t.stop());
        showError(ui.roomError, e);
    }
});

ui.leave.addEventListener('click', async () => {
    try {
        await client.leave();
    } catch {
        // leaving anyway
    }
    teardown();
});

function teardown() {
    clearInterval(statsTimer);
    if (client)
        client.close();
    client = null;
    if (media)
        media.getTracks().forEach((t) => t.stop());
    media = null;
    if (share)
        share.stream.getTracks().forEach((t) => t.stop());
    share = null;
    for (const key of [...tiles.keys()])
        removeTile(key);
    people.clear();
    ui.classroom.hidden = true;
    ui.lobby.hidden = false;
    ui.roomError.hidden = true;
    ui.roomLabel.textContent = '';
    ui.conn.hidden = true;
    board.detach();
    for (const b of [ui.mic, ui.camera, ui.screen]) {
        b.setAttribute('aria-pressed', 'false');
        b.disabled = false;
        b.hidden = false;
    }
    ui.mic.textContent = 'Mute';
    ui.camera.textContent = 'Camera off';
    delete ui.camera.dataset.start;
    ui.screen.textContent = 'Share screen';
}
