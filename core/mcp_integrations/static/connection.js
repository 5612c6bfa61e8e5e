// The live link to the hub: one EventSource on /events while someone is logged in, and
// what happens when the hub stops answering (a banner, retries with backoff, recovery).

import { api, ApiError } from "./api.js";
import { announce } from "./dom.js";

const MAX_DELAY_SECS = 30;
const listeners = new Map();

let source = null;
let wanted = false; // events are wanted while someone is logged in
let down = false;
let attempt = 0;
let timer = null;

/** Listen to "status" and "install" events, "open" (the stream (re)opened: refetch what
 * may have been missed) and "recovered"; returns the function that stops listening. */
export function on(event, listener) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(listener);
  return () => listeners.get(event).delete(listener);
}

function emit(event, data) {
  for (const listener of [...(listeners.get(event) ?? [])]) {
    try {
      listener(data);
    } catch (error) {
      console.error(error);
    }
  }
}

export function startEvents() {
  wanted = true;
  if (!down) connect();
}

export function stopEvents() {
  wanted = false;
  close();
}

export function isDown() {
  return down;
}

function close() {
  if (source) source.close();
  source = null;
}

function connect() {
  close();
  clearTimeout(timer);
  timer = null;
  const stream = new EventSource("/events");
  source = stream;
  stream.addEventListener("open", () => {
    attempt = 0;
    emit("open");
  });
  for (const kind of ["status", "install"]) {
    stream.addEventListener(kind, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      emit(kind, data);
    });
  }
  stream.addEventListener("error", () => {
    if (source !== stream) return;
    close();
    check();
  });
}

function delay() {
  attempt += 1;
  return Math.min(MAX_DELAY_SECS, 2 ** (attempt - 1));
}

/** The hub did not answer: show the banner and try again later (1 s, 2 s, 4 s ... 30 s). */
export function lost() {
  if (down && timer) return;
  clearTimeout(timer);
  const first = !down;
  down = true;
  close();
  const wait = delay();
  const banner = document.getElementById("unreachable");
  document.getElementById("unreachable-detail").textContent =
    `Nothing answers at ${location.host}: the hub may have stopped, or the network is down. ` +
    `Trying again in ${wait} s (attempt ${attempt}); this page recovers by itself.`;
  banner.hidden = false;
  if (first) announce("The hub is unreachable.");
  timer = setTimeout(check, wait * 1000);
}

/** Does the hub answer? Then reopen the stream (or show the login if the session ended). */
export async function check() {
  clearTimeout(timer);
  timer = null;
  try {
    await fetch("/health", { cache: "no-store", credentials: "same-origin" });
  } catch {
    lost();
    return;
  }
  if (down) {
    down = false;
    attempt = 0;
    document.getElementById("unreachable").hidden = true;
    announce("The hub answers again.");
    emit("recovered");
    if (wanted) connect();
    return;
  }
  if (!wanted) return;
  // The hub answers but the stream ended: a session that ended shows the login (the API
  // says 401); otherwise open the stream again, after a pause that grows.
  try {
    await api("/ui/session");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    if (!(error instanceof ApiError)) return; // unreachable: lost() took over
  }
  if (wanted && !source && !down) timer = setTimeout(connect, delay() * 1000);
}
