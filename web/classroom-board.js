// classroom-board.js — the classroom page's whiteboard and chat: the toolbar
// (pen, eraser, shapes, colours, the teacher's Clear), the board and the chat
// panel, wired to a WeirClient's `whiteboard` and `chat` channels.
//
// Everything drawn comes from the server's stamped echo (Board.apply), never
// straight from the pointer, so every board in the room shows the same ops in
// the same order. On every channel open (the first, and again after weir.js
// rejoined or reopened it) the server replays the history: the board and the
// chat panel start again from empty.

import { Board, StrokeInput, COLOURS } from '/whiteboard.js';
import { ChatPanel } from '/chat.js';

const $ = (sel) => document.querySelector(sel);

// What an error frame on a channel means to the person in front of the page.
function refusal(label, code, message) {
    switch (code) {
    case 403:
        return label === 'whiteboard' && /clear/i.test(message) ?
            `Only the teacher can clear the board (403: ${message}).` :
            `You may not write here (403: ${message}).`;
    case 413: return `That was too large to send (413: ${message}).`;
    case 415: return `That kind of message is not accepted (415: ${message}).`;
    case 429: return `Slow down: too much at once (429: ${message}).`;
    default: return `Refused (${code}: ${message}).`;
    }
}

export class ClassroomBoard {
    /** @param {(text: string) => void} onError where refusals are also recorded */
    constructor(onError) {
        this.onError = onError;
        this.client = null;
        this.me = null;
        this.people = null;
        this.offs = [];
        this.tool = { kind: 'pen', colour: COLOURS[0] };
        this.boardEl = $('#board');
        this.statusEl = $('#board-status');
        this.clearBtn = $('#btn-clear');
        this.waitEl = $('#board-wait');
        this.board = new Board($('#whiteboard'));
        this.input = new StrokeInput($('#board-input'), {
            send: (op) => this.client.whiteboard.send(op),
            tool: () => this.tool,
            enabled: () => this.writable() && !!this.client &&
                this.client.whiteboard.state === 'open',
        });
        this.chat = new ChatPanel({ list: $('#chat-list'), form: $('#chat-form'),
            input: $('#chat-input'), status: $('#chat-status') }, {
            send: (text) => this.client.chat.send(text),
            who: (msg) => this.who(msg),
        });
        this._toolbar();
    }

    _toolbar() {
        const colours = $('#colours');
        for (const c of COLOURS) {
            const b = document.createElement('button');
            b.type = 'button';
            b.className = 'swatch';
            b.style.background = c;
            b.dataset.colour = c;
            b.title = `Colour ${c}`;
            b.setAttribute('aria-pressed', String(c === this.tool.colour));
            colours.append(b);
        }
        colours.addEventListener('click', (ev) => {
            const b = ev.target.closest('.swatch');
            if (!b)
                return;
            this.tool.colour = b.dataset.colour;
            if (this.tool.kind === 'eraser')
                this._pick('pen');
            for (const s of colours.children)
                s.setAttribute('aria-pressed', String(s === b));
        });
        for (const b of document.querySelectorAll('.board-tools .tool'))
            b.addEventListener('click', () => this._pick(b.dataset.tool));
        this.clearBtn.addEventListener('click', () => {
            if (confirm('Clear the board for everyone?'))
                this.send({ op: 'clear' });
        });
    }

    _pick(kind) {
        this.tool.kind = kind;
        for (const b of document.querySelectorAll('.board-tools .tool'))
            b.setAttribute('aria-pressed', String(b.dataset.tool === kind));
    }

    /** Observers and recorders only watch (the server refuses their writes with 403). */
    writable() {
        return !!this.me && (this.me.role === 'teacher' || this.me.role === 'student');
    }

    /** Sends one op; a failure to send shows in the status line. */
    send(op) {
        try {
            this.client.whiteboard.send(op);
        } catch (e) {
            this.status(e.message);
        }
    }

    /** Follows a client that has joined (me: its participant; people: id → participant). */
    attach(client, me, people) {
        this.detach();
        this.client = client;
        this.me = me;
        this.people = people;
        const teacher = me.role === 'teacher';
        this.clearBtn.hidden = !teacher;
        $('#board-tools').querySelectorAll('.tool-group').forEach((g) => {
            g.hidden = !this.writable();
        });
        this.boardEl.classList.toggle('readonly', !this.writable());
        this.chat.setWritable(this.writable(), 'Observers read the chat only');
        this.waitEl.hidden = false;
        this.waitEl.textContent = 'Connecting the whiteboard…';
        const wb = client.whiteboard;
        const chat = client.chat;
        this.offs.push(
            wb.on('open', () => {
                this.board.reset();
                this.waitEl.hidden = true;
            }),
            wb.on((msg) => this.board.apply(msg)),
            wb.on('error', ({ code, message }) =>
                this.status(refusal('whiteboard', code, message))),
            wb.on('close', ({ reopening }) => {
                this.waitEl.hidden = false;
                this.waitEl.textContent = reopening ? 'Reconnecting the whiteboard…' :
                    'The whiteboard is closed.';
            }),
            chat.on('open', () => this.chat.reset()),
            chat.on((msg) => this.chat.add(msg)),
            chat.on('error', ({ code, message }) => {
                const text = refusal('chat', code, message);
                this.chat.status(text);
                this.onError(text);
            }),
        );
    }

    detach() {
        for (const off of this.offs.splice(0))
            off();
        this.client = null;
        this.me = null;
        this.board.reset();
        this.chat.reset();
        this.status('');
    }

    /** Says on the board why there is no whiteboard (the channels could not open). */
    unavailable(text) {
        this.waitEl.hidden = false;
        this.waitEl.textContent = text;
    }

    status(text) {
        clearTimeout(this._statusTimer);
        this.statusEl.textContent = text;
        this.statusEl.hidden = !text;
        if (text) {
            this.onError(text);
            this._statusTimer = setTimeout(() => {
                this.statusEl.hidden = true;
            }, 6000);
        }
    }

    // Who wrote a chat message: the server's `from` first (a claimed name can
    // be anything), the claimed name for people who have left.
    who(msg) {
        const me = this.client && this.client.participant;
        const mine = !!me && msg.from === me.id;
        if (mine)
            return { name: 'You', mine, role: this.me.role };
        const p = this.people && this.people.get(msg.from);
        if (p)
            return { name: p.display, mine, role: p.role };
        return { name: msg.name || msg.from || '?', mine };
    }
}
