// The approvals page of `alignkit serve`: lists escalations, approves or denies them.
// Everything shown is set with textContent (never parsed as HTML).
"use strict";

const state = { token: "", by: "", timer: null, cards: new Map(), sticky: null };

// Characters that change how text reads without being seen: bidirectional controls
// (U+202E made "git reset --hard" read as a comment), zero-width characters, other
// format and control characters, and the invisible "tag" characters (U+E0000-E007F) that
// spell out text a model reads and a person does not. They are shown as [U+XXXX], never
// obeyed. The u flag makes the class match whole code points beyond U+FFFF.
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\u{1d173}-\u{1d17a}\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/gu;

function visible(text) {
  return String(text).replace(HIDDEN, (c) => `[U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}]`);
}
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
  node.append(el("h3", "subject", visible(a.subject)));
  if (/[^\x20-\x7e]/.test(a.subject)) {  // a Cyrillic "а" makes "bаsh" look like bash
    node.append(el("p", "warning", "The tool name contains characters outside plain ASCII."));
  }
  const meta = el("p", "meta");
  const expiry = el("span", "expires");
  meta.append(`${a.kind} · rule ${a.rule} · requested ${new Date(a.created_at).toLocaleTimeString()} · `, expiry);
  node.append(meta, el("p", "reason", visible(a.reason)));
  node.append(el("pre", "request", visible(JSON.stringify(a.request, null, 2))));
  const row = el("div", "actions");
  const note = el("input", "note");
  note.placeholder = "note (optional; goes into the audit log and back to the agent)";
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
  // the name as it is in the box now (typing it without pressing Connect recorded "admin")
  const by = $("by").value.trim();
  if (!by) {
    state.sticky = { text: "enter your name before you approve or deny", error: true, until: Date.now() + 10000 };
    setStatus(state.sticky.text, true);
    $("by").focus();
    return;
  }
  state.by = by;
  sessionStorage.setItem("alignkit-by", by);
  const buttons = node.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  let message = `${verb === "approve" ? "approved" : "denied"} ${id}`;
  let failed = false;
  try {
    await api(`/admin/approvals/${encodeURIComponent(id)}/${verb}`, {
      method: "POST", body: JSON.stringify({ by: by, note: note }),
    });
  } catch (err) {
    message = `${verb} ${id} failed: ${err.message}`;
    failed = true;
    buttons.forEach((b) => { b.disabled = false; });  // it may still be pending: decide again
  }
  // said until read: the next refresh (every second) wiped a failure after 0.5 s
  state.sticky = { text: message, error: failed, until: Date.now() + (failed ? 30000 : 5000) };
  await refresh();
}

function renderPending(rows, total) {
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
  $("pending-count").textContent = total > rows.length ? `${rows.length} of ${total} (soonest to expire first)` : String(rows.length);
  $("pending-empty").hidden = rows.length > 0;
}

function renderDecided(rows) {
  const body = $("decided").querySelector("tbody");
  body.replaceChildren();
  const decided = rows.filter((r) => r.status !== "pending");
  decided.sort((x, y) => String(y.decided_at || "").localeCompare(String(x.decided_at || "")));
  for (const a of decided.slice(0, 20)) {
    const tr = el("tr");
    tr.dataset.id = a.id;
    tr.append(el("td", a.status, a.status), el("td", "", visible(a.subject)), el("td", "", a.rule),
      el("td", "", visible(a.decided_by || "")),
      el("td", "", a.decided_at ? new Date(a.decided_at).toLocaleTimeString() : ""),
      el("td", "", visible(a.note || "")));
    body.append(tr);
  }
}

async function refresh() {
  try {
    const pending = await api("/admin/approvals?status=pending&limit=200");
    // decided ones asked for by status: among the 50 newest of all, a flood of pending
    // requests left none
    const lists = await Promise.all(["approved", "denied", "expired"].map(
      (s) => api(`/admin/approvals?status=${s}&limit=20`)));
    renderPending(pending.approvals, pending.total ?? pending.approvals.length);
    renderDecided(lists.flatMap((l) => l.approvals));
    if (state.sticky && Date.now() < state.sticky.until) {
      setStatus(state.sticky.text, state.sticky.error);
    } else {
      state.sticky = null;
      setStatus(`connected · updated ${new Date().toLocaleTimeString()}`);
    }
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
