// A server's log: its tail, then its new lines as they are written (an EventSource that
// is closed when the view is left).

import { api, ApiError, describe, path } from "./api.js";
import { h, heading } from "./dom.js";

const TAIL = 200;
const MAX_LINES = 5000;

export function logsView(main, id) {
  const lines = h("pre", {
    id: "log-lines",
    class: "log",
    role: "log",
    "aria-live": "off",
    tabindex: "0",
    "aria-label": `Log of ${id}`,
  });
  const state = h("p", { id: "log-state", role: "status" }, "Loading the log…");
  const followId = "log-follow";
  const follow = h("input", { type: "checkbox", id: followId, checked: true });
  main.append(
    heading(`Log of ${id}`),
    h("p", {}, h("a", { href: "#/" }, "Back to the integrations"), " · ", h("a", { href: `#/integrations/${encodeURIComponent(id)}/tools` }, `Tools of ${id}`)),
    h("div", { class: "field field-check" }, follow, h("label", { for: followId }, "Show new lines as they are written")),
    state,
    lines,
  );
  let alive = true;
  let stream = null;
  let count = 0;

  function add(line) {
    const atBottom = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
    lines.append(`${line}\n`);
    count += 1;
    if (count > MAX_LINES) {
      lines.firstChild.remove();
      count -= 1;
    }
    if (atBottom) lines.scrollTop = lines.scrollHeight;
  }

  function live() {
    if (!alive || stream || !follow.checked) return;
    stream = new EventSource(`${path("integrations", id, "logs")}?tail=0&follow=true`);
    stream.addEventListener("open", () => {
      state.textContent = `The last lines of ${id}'s log; new lines appear as they are written.`;
    });
    stream.addEventListener("line", (event) => add(event.data));
    stream.addEventListener("error", () => {
      // The page's banner says when the hub is gone; the stream is opened again once the
      // checkbox is ticked again or the view shown again.
      stop();
      state.textContent = "New lines are no longer shown: the log's stream ended.";
      follow.checked = false;
    });
  }

  function stop() {
    if (stream) stream.close();
    stream = null;
  }

  follow.addEventListener("change", () => {
    if (follow.checked) live();
    else {
      stop();
      state.textContent = "New lines are not shown (paused).";
    }
  });

  api(`${path("integrations", id, "logs")}?tail=${TAIL}`)
    .then((answer) => {
      if (!alive) return;
      for (const line of answer.lines) add(line);
      state.textContent = answer.lines.length
        ? `The last ${TAIL} lines of ${id}'s log at most.`
        : `${id}'s log is empty so far.`;
      lines.scrollTop = lines.scrollHeight;
      live();
    })
    .catch((error) => {
      if (alive && !(error instanceof ApiError && error.status === 401)) {
        state.textContent = `Could not read the log: ${describe(error)}`;
      }
    });

  return () => {
    alive = false;
    stop();
  };
}
