// Installing: GET /sources describes each source as a form; the answers make the body of
// POST /integrations/install. Progress comes from the "install" events.

import { api, ApiError, describe } from "./api.js";
import { on } from "./connection.js";
import { announce, fill, h, heading } from "./dom.js";
import { control, readOrReport } from "./fields.js";

/** The control for a field a source declares. */
function sourceControl(field) {
  const kinds = { boolean: "checkbox" };
  return control({
    name: field.name,
    kind: kinds[field.kind] ?? field.kind,
    required: field.required,
    secret: field.secret,
    description: field.description,
    choices: field.choices ?? [],
    extra: field.env ? "(environment variable)" : "",
  });
}

export function installView(main) {
  const loading = h("p", {}, "Loading the install sources…");
  main.append(heading("Install an integration"), loading);
  let alive = true;
  let stopListening = () => {};

  api("/sources")
    .then(({ sources }) => {
      if (alive) build(sources);
    })
    .catch((error) => {
      if (alive && !(error instanceof ApiError && error.status === 401)) {
        fill(loading, `Could not load the install sources: ${describe(error)}`);
      }
    });

  function build(sources) {
    loading.remove();
    const select = h(
      "select",
      { id: "install-source", name: "source", "aria-describedby": "install-source-help" },
      sources.map((source) =>
        h("option", { value: source.prefix }, source.admin ? `${source.title} (admin only)` : source.title),
      ),
    );
    const sourceHelp = h("p", { id: "install-source-help", class: "help" });
    const fieldsBox = h("div", { class: "source-fields" });
    const options = {
      id: control({ name: "id", kind: "string", description: "Letters, digits, '.', '_' and '-', at most 64; by default the source's name." }),
      autostart: control({ name: "autostart", kind: "checkbox", description: "Start it as soon as it is installed." }),
      start_on_demand: control({ name: "start_on_demand", kind: "checkbox", description: "Start it on its first call; stopped until then." }),
      idle_timeout: control({ name: "idle_timeout", kind: "number", description: "Seconds without a call before it is stopped; 0: never." }),
    };
    const error = h("p", { id: "install-error", class: "form-error", role: "alert" });
    const progress = h("ul", { id: "install-progress", class: "progress", "aria-live": "polite" });
    const result = h("div", { id: "install-result", "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, "Install");
    const form = h(
      "form",
      { id: "install-form", novalidate: true, "aria-labelledby": "view-title" },
      h("div", { class: "field" }, h("label", { for: select.id }, "Source"), select, sourceHelp),
      fieldsBox,
      h(
        "fieldset",
        { class: "options" },
        h("legend", {}, "Options"),
        Object.values(options).map((option) => option.element),
      ),
      error,
      h("div", { class: "form-actions" }, submit),
    );
    main.append(form, h("h2", {}, "Progress"), progress, result);

    let current = null; // {source, sourceField, fields: [{field, control}]}
    function choose() {
      const source = sources.find((s) => s.prefix === select.value) ?? sources[0];
      sourceHelp.textContent = source.description || "";
      const sourceField = source.source_field ? sourceControl({ ...source.source_field, required: true }) : null;
      const fields = source.fields.map((field) => ({ field, control: sourceControl(field) }));
      fill(fieldsBox, sourceField ? sourceField.element : null, fields.map((f) => f.control.element));
      current = { source, sourceField, fields };
      error.textContent = "";
    }
    select.addEventListener("change", choose);
    choose();

    function body() {
      const { source, sourceField, fields } = current;
      const out = { source: source.prefix + (sourceField ? sourceField.read() : "") };
      const env = {};
      for (const { field, control: c } of fields) {
        const value = c.read();
        if (value === undefined) continue;
        if (field.env) env[field.name] = String(value);
        else if (field.name === "env" && typeof value === "object") Object.assign(env, value);
        else out[field.name] = value;
      }
      if (Object.keys(env).length) out.env = env;
      for (const [name, option] of Object.entries(options)) {
        const value = option.read();
        if (value !== undefined) out[name] = value;
      }
      return out;
    }

    function clearSecrets() {
      current.sourceField?.clearSecrets();
      current.fields.forEach(({ control: c }) => c.clearSecrets());
    }

    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      error.textContent = "";
      fill(result);
      const request = readOrReport(body, error);
      if (request === null) return;
      busy = true;
      form.setAttribute("aria-busy", "true");
      fill(progress);
      stopListening();
      stopListening = on("install", (step) => {
        if (step.source !== request.source || (request.id && step.id !== request.id)) return;
        const text = {
          installing: `Installing ${step.id} from ${step.source || "its URL"}…`,
          installed: `${step.id} is installed.`,
          failed: `Installing ${step.id} failed: ${step.error ?? "unknown error"}`,
        }[step.phase] ?? `${step.id}: ${step.phase}`;
        progress.append(h("li", { class: `phase-${step.phase}` }, text));
      });
      try {
        const answer = await api("/integrations/install", { method: "POST", body: request });
        const started = answer.status ? ` Its status: ${answer.status}.` : "";
        fill(
          result,
          h("p", { class: "success" }, `Installed ${answer.id}.${started} `, h("a", { href: "#/" }, "See it in the list of integrations"), "."),
        );
        announce(`Installed ${answer.id}.`);
        const chosen = select.value;
        form.reset();
        select.value = chosen;
        choose();
      } catch (problem) {
        if (!(problem instanceof ApiError && problem.status === 401)) {
          error.textContent = `The install failed: ${describe(problem)}`;
        }
      } finally {
        clearSecrets();
        busy = false;
        form.removeAttribute("aria-busy");
      }
    });
  }

  return () => {
    alive = false;
    stopListening();
  };
}
