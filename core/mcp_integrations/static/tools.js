// The tools of one integration, their input schemas, and a form to call each.

import { api, ApiError, describe, path } from "./api.js";
import { fill, h, heading, json } from "./dom.js";
import { control, readOrReport, schemaKind } from "./fields.js";

export function toolsView(main, id) {
  const state = h("p", { id: "tools-state", role: "status" }, "Loading the tools…");
  const list = h("div", { id: "tools", class: "tools" });
  main.append(
    heading(`Tools of ${id}`),
    h("p", {}, h("a", { href: "#/" }, "Back to the integrations"), " · ", h("a", { href: `#/integrations/${encodeURIComponent(id)}/logs` }, `Log of ${id}`)),
    state,
    list,
  );
  let alive = true;

  Promise.all([api(path("integrations", id, "tools")), api(path("integrations", id, "status"))])
    .then(([{ tools }, status]) => {
      if (!alive) return;
      const running = status.status === "running";
      const note = running || status.start_on_demand ? "" : ` ${id} is ${status.status}: start it to call them.`;
      state.textContent = `${tools.length} tool${tools.length === 1 ? "" : "s"}.${note}`;
      fill(list, tools.map((tool) => toolEntry(id, tool)));
    })
    .catch((error) => {
      if (alive && !(error instanceof ApiError && error.status === 401)) {
        state.textContent = `Could not load the tools: ${describe(error)}`;
      }
    });

  return () => {
    alive = false;
  };
}

/** A tool as a disclosure: its description, its schema, and (built when first opened) its form. */
function toolEntry(id, tool) {
  const summary = h("summary", {}, h("span", { class: "tool-name" }, tool.name), tool.title && tool.title !== tool.name ? ` — ${tool.title}` : "");
  const body = h("div", { class: "tool-body" });
  const details = h("details", { class: "tool", dataset: { tool: tool.name } }, summary, body);
  let built = false;
  details.addEventListener("toggle", () => {
    if (!details.open || built) return;
    built = true;
    body.append(
      tool.description ? h("p", { class: "description" }, tool.description) : h("p", { class: "description" }, "No description."),
      h("details", { class: "schema" }, h("summary", {}, "Input schema"), h("pre", { tabindex: "0" }, json(tool.input_schema ?? {}))),
      callForm(id, tool),
    );
  });
  return details;
}

function callForm(id, tool) {
  const schema = tool.input_schema ?? {};
  const properties = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const controls = Object.entries(properties).map(([name, property]) => {
    const { kind, choices } = schemaKind(property);
    const parts = [property?.description, property?.default !== undefined ? `Default: ${JSON.stringify(property.default)}.` : ""];
    return [
      name,
      control({
        name,
        kind,
        required: required.has(name),
        choices: choices ?? [],
        description: parts.filter(Boolean).join(" "),
        extra: kind === "json" ? `(${property?.type ?? "any"})` : "",
      }),
    ];
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const result = h("div", { class: "call-result", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "call-form", novalidate: true, dataset: { tool: tool.name } },
    h("h2", {}, `Call ${tool.name}`),
    controls.length ? controls.map(([, c]) => c.element) : h("p", {}, "This tool takes no arguments."),
    error,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Call", h("span", { class: "visually-hidden" }, ` ${tool.name}`))),
    result,
  );
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    error.textContent = "";
    const args = readOrReport(() => {
      const read = {};
      for (const [name, c] of controls) {
        const value = c.read();
        if (value !== undefined) read[name] = value;
      }
      return read;
    }, error);
    if (args === null) return;
    busy = true;
    form.setAttribute("aria-busy", "true");
    fill(result, h("p", {}, `Calling ${tool.name}…`));
    try {
      const answer = await api(path("integrations", id, "tools", tool.name, "call"), {
        method: "POST",
        body: { arguments: args },
      });
      fill(result, showResult(answer));
    } catch (problem) {
      fill(result);
      if (!(problem instanceof ApiError && problem.status === 401)) {
        error.textContent = `The call failed: ${describe(problem)}`;
      }
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

/** An MCP CallToolResult: its text content, other content as JSON, structuredContent, isError. */
function showResult(answer) {
  const parts = [h("h3", {}, answer.isError ? "The tool reported an error" : "Result")];
  const content = Array.isArray(answer.content) ? answer.content : [];
  for (const item of content) {
    if (item && item.type === "text") parts.push(h("pre", { class: "result-text", tabindex: "0" }, String(item.text ?? "")));
    else if (item && item.type === "image") parts.push(h("p", {}, `An image (${item.mimeType ?? "unknown type"}).`));
    else parts.push(h("pre", { class: "result-json", tabindex: "0" }, json(item)));
  }
  if (!content.length) parts.push(h("p", {}, "No content."));
  if (answer.structuredContent !== undefined && answer.structuredContent !== null) {
    parts.push(h("h4", {}, "Structured content"), h("pre", { class: "result-structured", tabindex: "0" }, json(answer.structuredContent)));
  }
  return h("div", { class: answer.isError ? "result is-error" : "result" }, parts);
}
