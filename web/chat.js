// chat.js — the classroom chat panel: the room's chat messages as the server
// stamped them (history first, then live), and a box to write one. No
// networking here: classroom.js wires it to weir.js's `chat` channel.
// Message text is always set as text, never as HTML.

const MAX_SHOWN = 500; // older messages leave the panel (the server keeps its own history)

export class ChatPanel {
    /**
     * @param {object} els {list, form, input, status} elements of the panel
     * @param {object} opts
     * @param {(text: string) => void} opts.send
     * @param {(msg) => {name: string, mine: boolean, role?: string}} opts.who
     *        who wrote a stamped message (from its `from` id or its claimed name)
     */
    constructor(els, { send, who }) {
        this.els = els;
        this.who = who;
        /** Stamped messages shown since the last reset. */
        this.messages = [];
        els.form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            const text = els.input.value.trim();
            if (!text)
                return;
            try {
                send(text);
                els.input.value = '';
                this.status('');
            } catch (e) {
                this.status(e.message);
            }
        });
    }

    /** Lets the user write (or not, with a reason shown as placeholder). */
    setWritable(ok, why = '') {
        this.els.input.disabled = !ok;
        this.els.form.querySelector('button').disabled = !ok;
        this.els.input.placeholder = ok ? 'Write to the class…' : why;
    }

    /** Empties the panel: the channel (re)opened and its history follows. */
    reset() {
        this.messages = [];
        this.els.list.replaceChildren();
    }

    /** Shows one stamped chat message (weir.js adds .text and .name). */
    add(msg) {
        this.messages.push(msg);
        const w = this.who(msg);
        const li = document.createElement('li');
        li.className = w.mine ? 'mine' : '';
        li.dataset.seq = String(msg.seq);
        const head = document.createElement('div');
        head.className = 'head';
        const name = document.createElement('span');
        name.className = 'who';
        name.textContent = w.name;
        if (w.role === 'teacher')
            name.classList.add('teacher');
        const time = document.createElement('time');
        const at = new Date(Number(msg.ts) || Date.now());
        time.dateTime = at.toISOString();
        time.textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        head.append(name, time);
        const body = document.createElement('div');
        body.className = 'text';
        body.textContent = msg.text;
        li.append(head, body);
        const list = this.els.list;
        // Follow the conversation unless the reader scrolled up to read older lines.
        const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        list.append(li);
        while (list.children.length > MAX_SHOWN)
            list.firstElementChild.remove();
        if (atBottom)
            list.scrollTop = list.scrollHeight;
    }

    /** A line under the box (an error from the server, or '' to hide it). */
    status(text) {
        this.els.status.textContent = text;
        this.els.status.hidden = !text;
    }
}
