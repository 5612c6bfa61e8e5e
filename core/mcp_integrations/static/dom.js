// Building the page from data: every string becomes a text node or an attribute value,
// never markup (tool descriptions, log lines and errors come from servers we do not trust).

let counter = 0;

/** A fresh id for pairing a label with its control. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * h("button", {type: "button", onclick: fn}, "Start") -> <button type="button">Start</button>.
 * Props: "class", "dataset" (an object), "on<event>" (a listener); anything else is an
 * attribute (true: present, false/null/undefined: left out). Children: nodes or text.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replace what ``element`` holds with ``children``. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Text for screen readers: said once, politely. */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A change the next frame, so that the same message twice is said twice.
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

/** The page's error banner (role=alert); ``null`` hides it. */
export function showError(message) {
  const banner = document.getElementById("error");
  document.getElementById("error-text").textContent = message ?? "";
  banner.hidden = !message;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** "3 h 4 min", "12 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hours} h`;
  if (hours) return `${hours} h ${min} min`;
  if (min) return `${min} min ${s % 60} s`;
  return `${s} s`;
}

/** A view's heading, focusable so that a route change can move focus to it. */
export function heading(text) {
  return h("h1", { id: "view-title", tabindex: "-1" }, text);
}
