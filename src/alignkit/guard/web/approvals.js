// The approvals page of `alignkit serve`: lists escalations, approves or denies them.
// Everything shown is set with textContent (never parsed as HTML).
"use strict";

const state = { token: "", by: "", timer: null, cards: new Map() };
const $ = (id) => document.getElementById(id);

function setStatus(text, error) {
  const el = $("status");
  el.textContent = text;
  el.className = error ? "error" : "";
}

async function api(path, options) {
  const response = await fetch(path, {
    ...options,
    headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json" },
  });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return body;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function secondsLeft(iso) {
  return Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000));
}

function card(a) {
  const node = el("article", "approval");
  node.dataset.id = a.id;
  node.append(el("h3", "subject", a.subject));
  const meta = el("p", "meta");
  const expiry = el("span", "expires");
  meta.append(`${a.kind} · rule ${a.rule} · requested ${new Date(a.created_at).toLocaleTimeString()} · `, expiry);
  node.append(meta, el("p", "reason", a.reason));
  node.append(el("pre", "request", JSON.stringify(a.request, null, 2)));
  const row = el("div", "actions");
  const note = el("input", "note");
  note.placeholder = "note (optional, goes into the audit log)";
  const approve = el("button", "approve", "Approve");
  const deny = el("button", "deny", "Deny");
  approve.type = deny.type = "button";
  approve.addEventListener("click", () => decide(a.id, "approve", note.value, node));
  deny.addEventListener("click", () => decide(a.id, "deny", note.value, node));
  row.append(note, approve, deny);
  node.append(row);
  node.expiry = expiry;
  node.expiresAt = a.expires_at;
  return node;
}

async function decide(id, verb, note, node) {
  node.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  let message = `${verb === "approve" ? "approved" : "denied"} ${id}`;
  let failed = false;
  try {
    await api(`/admin/approvals/${encodeURIComponent(id)}/${verb}`, {
      method: "POST", body: JSON.stringify({ by: state.by, note: note }),
    });
  } catch (err) {
    message = err.message;
    failed = true;
  }
  await refresh();
  setStatus(message, failed);
}

function renderPending(rows) {
  const list = $("pending");
  const seen = new Set();
  for (const a of rows) {
    seen.add(a.id);
    if (!state.cards.has(a.id)) {
      const node = card(a);
      state.cards.set(a.id, node);
      list.append(node);
    }
  }
  for (const [id, node] of state.cards) {
    if (!seen.has(id)) { node.remove(); state.cards.delete(id); }
  }
  for (const node of state.cards.values()) {
    node.expiry.textContent = `expires in ${secondsLeft(node.expiresAt)} s`;
  }
  $("pending-count").textContent = String(rows.length);
  $("pending-empty").hidden = rows.length > 0;
}

function renderDecided(rows) {
  const body = $("decided").querySelector("tbody");
  body.replaceChildren();
  for (const a of rows.filter((r) => r.status !== "pending").slice(0, 20)) {
    const tr = el("tr");
    tr.dataset.id = a.id;
    tr.append(el("td", a.status, a.status), el("td", "", a.subject), el("td", "", a.rule),
      el("td", "", a.decided_by || ""),
      el("td", "", a.decided_at ? new Date(a.decided_at).toLocaleTimeString() : ""),
      el("td", "", a.note || ""));
    body.append(tr);
  }
}

async function refresh() {
  try {
    const pending = await api("/admin/approvals?status=pending&limit=200");
    const recent = await api("/admin/approvals?status=all&limit=50");
    renderPending(pending.approvals);
    renderDecided(recent.approvals);
    setStatus(`connected · updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    setStatus(err.status === 401 ? "wrong admin token" : err.message, true);
  }
}

function connect(event) {
  if (event) event.preventDefault();
  state.token = $("token").value.trim();
  state.by = $("by").value.trim() || "admin";
  sessionStorage.setItem("alignkit-token", state.token);
  sessionStorage.setItem("alignkit-by", state.by);
  setStatus("connecting…");
  if (state.timer) clearInterval(state.timer);
  refresh();
  state.timer = setInterval(refresh, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) history.replaceState(null, "", location.pathname);
  $("token").value = fromHash || sessionStorage.getItem("alignkit-token") || "";
  $("by").value = sessionStorage.getItem("alignkit-by") || "";
  $("login").addEventListener("submit", connect);
  if ($("token").value) connect();
});
