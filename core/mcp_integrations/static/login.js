// The login: a token (made with `mcp-integrations token`) becomes an HttpOnly cookie.

import { api, ApiError, describe } from "./api.js";
import { h, heading } from "./dom.js";

export function loginView(main, { reason, onLogin }) {
  const input = h("input", {
    id: "login-token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    spellcheck: "false",
    required: true,
    "aria-describedby": "login-help",
  });
  const error = h("p", { id: "login-error", class: "form-error", role: "alert" });
  const form = h(
    "form",
    { id: "login-form", novalidate: true, "aria-labelledby": "view-title" },
    h("div", { class: "field" }, h("label", { for: "login-token" }, "Access token"), input,
      h("p", { id: "login-help", class: "help" },
        "This hub needs a token. Its owner makes one with ",
        h("code", {}, "mcp-integrations token"),
        "; it is kept in a cookie this page's scripts cannot read, until you log out.")),
    error,
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "Log in")),
  );
  main.append(heading("Log in"), reason ? h("p", { class: "note" }, reason) : null, form);
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    error.textContent = "";
    if (!input.value) {
      error.textContent = "Type the access token.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    busy = true;
    try {
      const who = await api("/ui/login", { method: "POST", body: { token: input.value }, login: false });
      input.value = "";
      onLogin(who);
    } catch (problem) {
      input.value = "";
      input.setAttribute("aria-invalid", "true");
      error.textContent =
        problem instanceof ApiError && problem.status === 401
          ? "That token is not valid."
          : `Could not log in: ${describe(problem)}`;
      input.focus();
    } finally {
      busy = false;
    }
  });
  return () => {};
}
