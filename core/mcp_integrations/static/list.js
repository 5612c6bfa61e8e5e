// Every integration, its live status (from /events), and what can be done to it.

import { api, ApiError, describe, path } from "./api.js";
import { on } from "./connection.js";
import { announce, duration, fill, h, heading, showError } from "./dom.js";

const COLUMNS = ["Integration", "Status", "Uptime", "Restarts", "Tools", "Details", "Actions"];

export function listView(main) {
  const rows = new Map(); // id -> {row, cells, status, seq, fetchedAt, busy}
  const tbody = h("tbody");
  const empty = h(
    "p",
    { id: "empty", hidden: true },
    "Nothing is installed yet. ",
    h("a", { href: "#/install" }, "Install an integration"),
    ".",
  );
  const table = h(
    "table",
    { id: "integrations", class: "integrations" },
    h("caption", { class: "visually-hidden" }, "Installed integrations"),
    h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, name)))),
    tbody,
  );
  const loading = h("p", { id: "list-loading" }, "Loading the integrations…");
  main.append(heading("Integrations"), loading, empty, h("div", { class: "table-wrap" }, table));

  // Answers may arrive out of order: each request gets a number, and an answer older than
  // the last one shown (or than the row's removal) is dropped.
  let seq = 0;
  const gone = new Map(); // id -> seq when its row was removed

  function entry(id) {
    let item = rows.get(id);
    if (item) return item;
    const cells = Object.fromEntries(
      ["status", "uptime", "restarts", "tools", "details"].map((name) => [
        name,
        h("td", { class: `col-${name}` }),
      ]),
    );
    const label = (text) => [text, h("span", { class: "visually-hidden" }, ` ${id}`)];
    const actions = h(
      "td",
      { class: "actions" },
      h("button", { type: "button", onclick: () => act(id, "start") }, label("Start")),
      h("button", { type: "button", onclick: () => act(id, "stop") }, label("Stop")),
      h("button", { type: "button", onclick: () => act(id, "restart") }, label("Restart")),
      h("a", { href: `#/integrations/${encodeURIComponent(id)}/tools` }, label("Tools")),
      h("a", { href: `#/integrations/${encodeURIComponent(id)}/logs` }, label("Logs")),
      h("button", { type: "button", class: "danger", onclick: () => remove(id) }, label("Remove")),
    );
    const row = h(
      "tr",
      { dataset: { id } },
      h("th", { scope: "row" }, id),
      cells.status,
      cells.uptime,
      cells.restarts,
      cells.tools,
      cells.details,
      actions,
    );
    item = { row, cells, status: null, seq: 0, fetchedAt: 0, busy: false };
    rows.set(id, item);
    // Keep the rows in id order, as the API lists them.
    const after = [...rows.keys()].sort().find((other) => other > id && rows.get(other).row.isConnected);
    tbody.insertBefore(row, after ? rows.get(after).row : null);
    return item;
  }

  function showEmpty() {
    loading.hidden = true;
    empty.hidden = rows.size > 0;
    table.hidden = rows.size === 0;
  }

  function update(status, requestSeq = null) {
    if (requestSeq !== null && requestSeq <= (gone.get(status.id) ?? 0)) return;
    const item = entry(status.id);
    if (requestSeq !== null && requestSeq < item.seq) return; // an older answer
    if (requestSeq !== null) item.seq = requestSeq;
    item.status = status;
    item.fetchedAt = performance.now();
    setStatus(item, status.status);
    item.cells.restarts.textContent = String(status.restarts ?? 0);
    item.cells.tools.textContent = String(status.tools_count ?? 0);
    const details = [];
    if (status.stop_reason) details.push(h("span", {}, `Stopped: ${status.stop_reason}`));
    if (status.next_retry_at) {
      const when = new Date(status.next_retry_at * 1000).toLocaleTimeString();
      details.push(h("span", {}, `Next retry at ${when}`));
    }
    if (status.last_error) {
      details.push(h("span", { class: "last-error" }, `Last error: ${status.last_error}`));
    }
    fill(item.cells.details, details.length ? details : "—");
    tick(item);
    showEmpty();
  }

  function setStatus(item, value) {
    fill(item.cells.status, h("span", { class: `status status-${value}` }, value));
    item.row.dataset.status = value;
  }

  function tick(item) {
    const status = item.status;
    if (!status || status.uptime_secs === null || status.uptime_secs === undefined) {
      item.cells.uptime.textContent = "—";
      return;
    }
    const elapsed = (performance.now() - item.fetchedAt) / 1000;
    item.cells.uptime.textContent = duration(status.uptime_secs + elapsed);
  }

  function drop(id) {
    seq += 1;
    gone.set(id, seq);
    const item = rows.get(id);
    if (!item) return;
    item.row.remove();
    rows.delete(id);
    showEmpty();
  }

  async function refresh() {
    try {
      const { integrations } = await api("/integrations");
      const seen = new Set();
      seq += 1;
      for (const status of integrations) {
        seen.add(status.id);
        update(status, seq);
      }
      for (const id of [...rows.keys()]) if (!seen.has(id)) drop(id);
      showEmpty();
    } catch (error) {
      if (error instanceof ApiError && error.status !== 401) showError(describe(error));
    }
  }

  async function refetch(id) {
    seq += 1;
    const mine = seq;
    try {
      update(await api(path("integrations", id, "status")), mine);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) drop(id);
    }
  }

  async function act(id, action) {
    const item = rows.get(id);
    if (!item || item.busy) return;
    item.busy = true;
    item.row.setAttribute("aria-busy", "true");
    showError(null);
    seq += 1;
    const mine = seq;
    try {
      update(await api(path("integrations", id, action), { method: "POST" }), mine);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        showError(`Could not ${action} ${id}: ${describe(error)}`);
      }
      refetch(id);
    } finally {
      item.busy = false;
      item.row.removeAttribute("aria-busy");
    }
  }

  async function remove(id) {
    if (!window.confirm(`Remove ${id}? Its server is stopped and its settings and secrets are deleted.`)) return;
    showError(null);
    try {
      await api(path("integrations", id), { method: "DELETE" });
      drop(id);
      announce(`${id} removed.`);
      document.getElementById("view-title").focus();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        showError(`Could not remove ${id}: ${describe(error)}`);
      }
    }
  }

  const stops = [
    on("status", (event) => {
      const item = rows.get(event.id);
      if (item) setStatus(item, event.to);
      announce(`${event.id} is ${event.to}${event.reason ? `: ${event.reason}` : ""}.`);
      refetch(event.id);
    }),
    on("install", (event) => {
      if (event.phase === "installed") refetch(event.id);
    }),
    on("open", refresh),
    on("recovered", refresh),
  ];
  const clock = setInterval(() => rows.forEach(tick), 1000);
  refresh();
  return () => {
    stops.forEach((stop) => stop());
    clearInterval(clock);
  };
}
