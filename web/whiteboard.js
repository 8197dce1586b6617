// whiteboard.js — the classroom whiteboard: drawing ops on a canvas, and
// pointer input turned into ops. No networking here: classroom.js sends what
// StrokeInput produces on weir.js's `whiteboard` channel and feeds what the
// server stamps back into Board.apply(), so every board draws the same ops in
// the server's one order (nothing is drawn before its echo).
//
// Ops (the `data` of a stamped whiteboard message), coordinates normalised to
// 0..1 of the board's width and height so that boards of any size match; w is
// a line width in thousandths of the board width:
//
//   {"op":"line",  "pts":[[x,y],...], "c":"#e33", "w":3}   a pen stroke piece
//   {"op":"erase", "pts":[[x,y],...], "w":24}              an eraser stroke piece
//   {"op":"rect",  "pts":[[x0,y0],[x1,y1]], "c":"#e33", "w":3}
//   {"op":"ellipse","pts":[[x0,y0],[x1,y1]], "c":"#e33", "w":3}  (in that box)
//   {"op":"clear"}                                          teacher only
//
// A stroke is sent in pieces every ~30 ms while the pen moves; each piece
// starts with the last point of the previous one so the pieces join.

// The canvas bitmap is always this size (CSS scales it): the same ops give
// the same pixels on every board, whatever its size on screen.
export const BOARD_WIDTH = 1600;
export const BOARD_HEIGHT = 900;

export const COLOURS = ['#1d2330', '#e5484d', '#2f7fed', '#2fbf71', '#f0a020'];
export const PEN_WIDTH = 3;
export const ERASER_WIDTH = 24;

const MAX_POINTS = 1000; // per op; more is not a stroke piece of ours
const BATCH_MS = 30;
const BATCH_POINTS = 120; // a piece is sent early when it has this many points
const COLOUR_RE = /^#[0-9a-f]{3}([0-9a-f]{3})?$/i;

const round4 = (v) => Math.round(v * 10000) / 10000;
const clamp01 = (v) => Math.min(1, Math.max(0, v));

/**
 * The op in `data` checked and made safe to draw, or null when it is not a
 * drawing op this board knows (the server relays whatever a client sent).
 */
export function validOp(data) {
    if (!data || typeof data !== 'object' || Array.isArray(data))
        return null;
    if (data.op === 'clear')
        return { op: 'clear' };
    if (!['line', 'erase', 'rect', 'ellipse'].includes(data.op))
        return null;
    const pts = data.pts;
    if (!Array.isArray(pts) || pts.length < 1 || pts.length > MAX_POINTS)
        return null;
    const out = [];
    for (const p of pts) {
        if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]))
            return null;
        out.push([clamp01(p[0]), clamp01(p[1])]);
    }
    if ((data.op === 'rect' || data.op === 'ellipse') && out.length !== 2)
        return null;
    const wDefault = data.op === 'erase' ? ERASER_WIDTH : PEN_WIDTH;
    const w = Number.isFinite(data.w) && data.w >= 0.5 && data.w <= 100 ? data.w : wDefault;
    const c = typeof data.c === 'string' && COLOUR_RE.test(data.c) ? data.c : COLOURS[0];
    return { op: data.op, pts: out, w, c };
}

/** Draws stamped whiteboard messages on a canvas, in the order given. */
export class Board {
    constructor(canvas) {
        this.canvas = canvas;
        canvas.width = BOARD_WIDTH;
        canvas.height = BOARD_HEIGHT;
        this.ctx = canvas.getContext('2d');
        /** Stamped messages drawn since the last clear or reset ({seq, from, ts, data}). */
        this.ops = [];
        /** Messages that were not drawing ops (counted, not drawn). */
        this.ignored = 0;
        /** The seq of the last clear seen since the last reset (0: none). */
        this.clearedAt = 0;
    }

    /** Empties the board: the channel (re)opened and its history follows. */
    reset() {
        this.ctx.clearRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
        this.ops = [];
        this.clearedAt = 0;
    }

    /** Draws one stamped message; returns false when it was not a drawing op. */
    apply(msg) {
        const op = validOp(msg && msg.data);
        if (!op) {
            this.ignored++;
            return false;
        }
        if (op.op === 'clear') {
            this.ctx.clearRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
            this.ops = [];
            this.clearedAt = msg.seq;
            return true;
        }
        this.draw(op);
        this.ops.push(msg);
        return true;
    }

    draw(op) {
        const ctx = this.ctx;
        const pts = op.pts.map(([x, y]) => [x * BOARD_WIDTH, y * BOARD_HEIGHT]);
        ctx.save();
        ctx.lineCap = 'round';
        ctx.lineJoin = 'round';
        ctx.lineWidth = (op.w * BOARD_WIDTH) / 1000;
        ctx.strokeStyle = op.c;
        ctx.fillStyle = op.c;
        if (op.op === 'erase') {
            ctx.globalCompositeOperation = 'destination-out';
            ctx.strokeStyle = ctx.fillStyle = '#000';
        }
        ctx.beginPath();
        if (op.op === 'rect') {
            const [[x0, y0], [x1, y1]] = pts;
            ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
            ctx.stroke();
        } else if (op.op === 'ellipse') {
            const [[x0, y0], [x1, y1]] = pts;
            ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2,
                0, 0, 2 * Math.PI);
            ctx.stroke();
        } else if (pts.length === 1) {
            // A tap: a dot as wide as the line.
            ctx.arc(pts[0][0], pts[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
            ctx.fill();
        } else {
            ctx.moveTo(pts[0][0], pts[0][1]);
            for (const [x, y] of pts.slice(1))
                ctx.lineTo(x, y);
            ctx.stroke();
        }
        ctx.restore();
    }

    /**
     * What is on the board, for comparing boards: an FNV-1a hash of the
     * bitmap's RGBA bytes and how many pixels are not transparent.
     */
    fingerprint() {
        const px = this.ctx.getImageData(0, 0, BOARD_WIDTH, BOARD_HEIGHT).data;
        let h = 0x811c9dc5;
        let inked = 0;
        for (let i = 0; i < px.length; i += 4) {
            if (px[i + 3] !== 0)
                inked++;
            for (let k = 0; k < 4; k++) {
                h ^= px[i + k];
                h = Math.imul(h, 0x01000193);
            }
        }
        return { hash: (h >>> 0).toString(16).padStart(8, '0'), inked };
    }
}

/**
 * Pointer input on the board's overlay canvas → ops handed to send().
 * tool() says what to draw: {kind: 'pen'|'eraser'|'rect'|'ellipse', colour}.
 * Shapes are previewed on the overlay while dragged; pen and eraser are
 * not (their pieces come back within a round trip).
 */
export class StrokeInput {
    constructor(overlay, { send, tool, enabled = () => true }) {
        this.overlay = overlay;
        overlay.width = BOARD_WIDTH;
        overlay.height = BOARD_HEIGHT;
        this.octx = overlay.getContext('2d');
        this.send = send;
        this.tool = tool;
        this.enabled = enabled;
        this.stroke = null; // {tool, pts (not yet sent), last (sent), start, timer}
        overlay.addEventListener('pointerdown', (e) => this._down(e));
        overlay.addEventListener('pointermove', (e) => this._move(e));
        overlay.addEventListener('pointerup', (e) => this._up(e));
        overlay.addEventListener('pointercancel', (e) => this._up(e));
    }

    _pos(e) {
        const r = this.overlay.getBoundingClientRect();
        return [round4(clamp01((e.clientX - r.left) / r.width)),
            round4(clamp01((e.clientY - r.top) / r.height))];
    }

    _down(e) {
        if (e.button !== 0 || !this.enabled() || this.stroke)
            return;
        this.overlay.setPointerCapture(e.pointerId);
        const tool = { ...this.tool() };
        const p = this._pos(e);
        this.stroke = { tool, pointerId: e.pointerId, pts: [p], last: null, start: p, end: p,
            timer: null };
        if (tool.kind === 'pen' || tool.kind === 'eraser')
            this.stroke.timer = setInterval(() => this._flush(false), BATCH_MS);
    }

    _move(e) {
        const s = this.stroke;
        if (!s || e.pointerId !== s.pointerId)
            return;
        const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
        for (const ev of events.length ? events : [e]) {
            const p = this._pos(ev);
            s.end = p;
            const prev = s.pts.length ? s.pts[s.pts.length - 1] : s.last;
            if (!prev || prev[0] !== p[0] || prev[1] !== p[1])
                s.pts.push(p);
        }
        if (s.tool.kind === 'rect' || s.tool.kind === 'ellipse')
            this._preview(s);
        else if (s.pts.length >= BATCH_POINTS)
            this._flush(false);
    }

    _up(e) {
        const s = this.stroke;
        if (!s || e.pointerId !== s.pointerId)
            return;
        if (e.type === 'pointerup')
            this._move(e);
        clearInterval(s.timer);
        this.octx.clearRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
        if (s.tool.kind === 'rect' || s.tool.kind === 'ellipse') {
            if (s.start[0] !== s.end[0] || s.start[1] !== s.end[1])
                this._emit({ op: s.tool.kind, pts: [s.start, s.end], c: s.tool.colour,
                    w: PEN_WIDTH });
        } else {
            this._flush(true);
        }
        this.stroke = null;
    }

    // Sends the points gathered since the last piece (with the last point
    // sent before them, so the pieces join). A tap sends a single point.
    _flush(final) {
        const s = this.stroke;
        if (!s || !s.pts.length)
            return;
        const pts = s.last ? [s.last, ...s.pts] : s.pts;
        if (pts.length < 2 && !final)
            return; // wait: it may become a line
        s.last = s.pts[s.pts.length - 1];
        s.pts = [];
        if (s.tool.kind === 'eraser')
            this._emit({ op: 'erase', pts, w: ERASER_WIDTH });
        else
            this._emit({ op: 'line', pts, c: s.tool.colour, w: PEN_WIDTH });
    }

    _emit(op) {
        try {
            this.send(op);
        } catch (e) {
            console.error('whiteboard: send failed', e);
        }
    }

    _preview(s) {
        const ctx = this.octx;
        ctx.clearRect(0, 0, BOARD_WIDTH, BOARD_HEIGHT);
        const [x0, y0] = [s.start[0] * BOARD_WIDTH, s.start[1] * BOARD_HEIGHT];
        const [x1, y1] = [s.end[0] * BOARD_WIDTH, s.end[1] * BOARD_HEIGHT];
        ctx.save();
        ctx.setLineDash([8, 6]);
        ctx.lineWidth = (PEN_WIDTH * BOARD_WIDTH) / 1000;
        ctx.strokeStyle = s.tool.colour;
        ctx.beginPath();
        if (s.tool.kind === 'rect')
            ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
        else
            ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.abs(x1 - x0) / 2, Math.abs(y1 - y0) / 2,
                0, 0, 2 * Math.PI);
        ctx.stroke();
        ctx.restore();
    }
}
