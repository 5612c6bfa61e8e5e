// Form controls for typed values: the install forms (fields a source declares) and tool
// calls (a JSON schema). Each control comes with read(), which gives its value, or
// `undefined` for an empty optional one, or throws a FieldError naming it.

import { h, uid } from "./dom.js";

export class FieldError extends Error {
  constructor(control, message) {
    super(message);
    this.control = control;
  }
}

// What read() gives, or null once the first field it refuses is named in `error` and
// focused: a form's values, checked before anything is sent.
export function readOrReport(read, error) {
  try {
    return read();
  } catch (problem) {
    if (!(problem instanceof FieldError)) throw problem;
    error.textContent = problem.message;
    problem.control.focus();
    return null;
  }
}

function labelFor(id, name, required, extra) {
  return h(
    "label",
    { for: id },
    name,
    required ? h("span", { class: "required" }, " (required)") : "",
    extra ? h("span", { class: "hint" }, ` ${extra}`) : "",
  );
}

function helpText(id, text) {
  return text ? h("p", { id: `${id}-help`, class: "help" }, text) : null;
}

function invalid(control, message) {
  control.setAttribute("aria-invalid", "true");
  return new FieldError(control, message);
}

function clearInvalid(control) {
  control.removeAttribute("aria-invalid");
}

/** Lines of a textarea, without blank ones, each trimmed. */
function lines(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}

/**
 * A control for one field.
 * kind: string | number | integer | boolean | list | map | choice | json.
 * Returns {element, read, clearSecrets}.
 */
export function control({ name, kind, required = false, secret = false, description = "", choices = [], extra = "", placeholder = "", dataName = name }) {
  const id = uid("field");
  const describedBy = description ? `${id}-help` : null;
  const help = helpText(id, description);
  const common = { id, name: dataName, "aria-describedby": describedBy, dataset: { field: dataName } };
  let input;
  let element;
  let read;
  let clearSecrets = () => {};

  if (kind === "boolean" && required) {
    input = h("input", { ...common, type: "checkbox" });
    element = h("div", { class: "field field-check" }, input, labelFor(id, name, false, extra), help);
    read = () => input.checked;
  } else if (kind === "boolean") {
    // Optional: left out unless chosen, so the server's default holds.
    input = h(
      "select",
      common,
      h("option", { value: "" }, "(default)"),
      h("option", { value: "true" }, "true"),
      h("option", { value: "false" }, "false"),
    );
    element = h("div", { class: "field" }, labelFor(id, name, false, extra), input, help);
    read = () => (input.value === "" ? undefined : input.value === "true");
  } else if (kind === "checkbox") {
    // A flag that is sent only when checked (install options, connector flags).
    input = h("input", { ...common, type: "checkbox" });
    element = h("div", { class: "field field-check" }, input, labelFor(id, name, false, extra), help);
    read = () => (input.checked ? true : undefined);
  } else if (kind === "choice") {
    input = h(
      "select",
      { ...common, required },
      required ? null : h("option", { value: "" }, "(default)"),
      choices.map((choice) => h("option", { value: choice }, String(choice))),
    );
    element = h("div", { class: "field" }, labelFor(id, name, required, extra), input, help);
    read = () => {
      if (input.value === "") return undefined;
      // An enum of numbers or booleans: give back the value as the schema has it.
      const found = choices.find((choice) => String(choice) === input.value);
      return found === undefined ? input.value : found;
    };
  } else if (kind === "map" && secret) {
    return secretMap({ id, name, required, description, help, extra, dataName });
  } else if (kind === "list" || kind === "map" || kind === "json") {
    const hints = {
      list: "One per line.",
      map: "One NAME=value a line.",
      json: "JSON.",
    };
    input = h("textarea", {
      ...common,
      rows: kind === "json" ? 4 : 3,
      spellcheck: "false",
      required,
      placeholder: placeholder || null,
    });
    element = h("div", { class: "field" }, labelFor(id, name, required, `${extra} ${hints[kind]}`.trim()), input, help);
    read = () => {
      clearInvalid(input);
      const text = input.value;
      if (text.trim() === "") {
        if (required) throw invalid(input, `${name} is required`);
        return undefined;
      }
      if (kind === "list") return lines(text);
      if (kind === "json") {
        try {
          return JSON.parse(text);
        } catch (error) {
          throw invalid(input, `${name} is not valid JSON: ${error.message}`);
        }
      }
      const map = {};
      lines(text).forEach((line, index) => {
        const at = line.indexOf("=");
        if (at < 1) throw invalid(input, `${name}, line ${index + 1}: expected NAME=value`);
        map[line.slice(0, at).trim()] = line.slice(at + 1);
      });
      return map;
    };
  } else {
    const numeric = kind === "number" || kind === "integer";
    input = h("input", {
      ...common,
      type: secret ? "password" : numeric ? "number" : "text",
      step: kind === "integer" ? "1" : numeric ? "any" : null,
      inputmode: kind === "integer" ? "numeric" : null,
      autocomplete: secret ? "new-password" : "off",
      spellcheck: "false",
      required,
      placeholder: placeholder || null,
    });
    element = h("div", { class: "field" }, labelFor(id, name, required, extra), input, help);
    if (secret) clearSecrets = () => (input.value = "");
    read = () => {
      clearInvalid(input);
      const text = input.value;
      if (text === "") {
        if (required) throw invalid(input, `${name} is required`);
        return undefined;
      }
      if (!numeric) return text;
      const number = Number(text);
      if (!Number.isFinite(number) || (kind === "integer" && !Number.isInteger(number))) {
        throw invalid(input, `${name} must be ${kind === "integer" ? "an integer" : "a number"}`);
      }
      return number;
    };
  }
  return { element, read, clearSecrets };
}

/** Secret NAME=value pairs: the values typed masked, never shown again. */
function secretMap({ id, name, required, description, help, extra, dataName }) {
  const rows = h("ul", { class: "pairs", id });
  const legendText = `${name}${required ? " (required)" : ""}${extra ? ` ${extra}` : ""}`;
  const fieldset = h(
    "fieldset",
    { class: "field pairs-field", dataset: { field: dataName }, "aria-describedby": description ? `${id}-help` : null },
    h("legend", {}, legendText),
    help,
    rows,
  );
  const pairs = [];
  function addPair() {
    const keyId = uid("name");
    const valueId = uid("value");
    const key = h("input", { id: keyId, type: "text", autocomplete: "off", spellcheck: "false", class: "pair-name" });
    const value = h("input", { id: valueId, type: "password", autocomplete: "new-password", class: "pair-value" });
    const number = pairs.length + 1;
    const pair = { key, value, item: null };
    const removeButton = h(
      "button",
      {
        type: "button",
        class: "link-button",
        onclick: () => {
          pair.item.remove();
          pairs.splice(pairs.indexOf(pair), 1);
          addButton.focus();
        },
      },
      "Remove",
      h("span", { class: "visually-hidden" }, ` ${name} entry ${number}`),
    );
    pair.item = h(
      "li",
      {},
      h("label", { for: keyId }, `Name ${number}`),
      key,
      h("label", { for: valueId }, `Value ${number}`),
      value,
      removeButton,
    );
    pairs.push(pair);
    rows.append(pair.item);
    return pair;
  }
  const addButton = h(
    "button",
    { type: "button", class: "add-pair", onclick: () => addPair().key.focus() },
    `Add to ${name}`,
  );
  fieldset.append(addButton);
  addPair();
  const read = () => {
    const map = {};
    for (const pair of pairs) {
      clearInvalid(pair.key);
      const key = pair.key.value.trim();
      if (key === "" && pair.value.value === "") continue;
      if (key === "") throw invalid(pair.key, `${name}: a value has no name`);
      map[key] = pair.value.value;
    }
    if (Object.keys(map).length === 0) {
      if (required) throw invalid(pairs[0]?.key ?? addButton, `${name} is required`);
      return undefined;
    }
    return map;
  };
  const clearSecrets = () => {
    for (const pair of pairs) pair.value.value = "";
  };
  return { element: fieldset, read, clearSecrets };
}

/** The kind of control for a JSON schema property. */
export function schemaKind(schema) {
  if (!schema || typeof schema !== "object") return { kind: "json" };
  if (Array.isArray(schema.enum) && schema.enum.length) return { kind: "choice", choices: schema.enum };
  let type = schema.type;
  if (Array.isArray(type)) {
    const types = type.filter((t) => t !== "null");
    type = types.length === 1 ? types[0] : undefined;
  }
  if (!type && Array.isArray(schema.anyOf || schema.oneOf)) {
    const branches = (schema.anyOf || schema.oneOf).filter((b) => b && b.type !== "null");
    if (branches.length === 1) return schemaKind({ ...branches[0], description: schema.description });
  }
  if (type === "string") return { kind: "string" };
  if (type === "number") return { kind: "number" };
  if (type === "integer") return { kind: "integer" };
  if (type === "boolean") return { kind: "boolean" };
  return { kind: "json" }; // arrays, objects and anything else: typed as JSON
}
