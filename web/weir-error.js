// weir-error.js — the error type of weir.js (its own module so that weir.js
// and weir-channel.js can both throw it without importing each other).

/**
 * A JSON-RPC error answered by the server, an error frame on a data channel,
 * or a local failure (code 0: closed socket, timeout, ...).
 */
export class WeirError extends Error {
    constructor(code, message, data) {
        super(message);
        this.name = 'WeirError';
        this.code = code;
        this.data = data;
    }
}
