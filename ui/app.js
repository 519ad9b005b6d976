// The mfa-tray window. No framework, no bundler; talks to the app only through its
// own commands (window.__TAURI__.core.invoke) and never sees a secret.
"use strict";

const { invoke } = window.__TAURI__.core;
const $ = (id) => document.getElementById(id);

// Plain words for the core's error codes; the core's message follows.
const TITLES = {
  wrong_code: "That code did not work.",
  bad_code: "An MFA code is 6 digits.",
  code_required: "This needs an MFA code.",
  bad_mfa_device: "AWS does not know this MFA device.",
  expired_token: "The MFA session has expired.",
  access_denied: "AWS said no.",
  invalid_keys: "AWS does not accept the keys.",
  network: "AWS cannot be reached.",
  aws_unavailable: "AWS is busy; try again in a minute.",
  file_locked: "The credentials file is busy.",
  file_read_only: "The credentials file is read-only.",
  file_malformed: "The credentials file has a line mfa-tray cannot read.",
  file_not_ours: "mfa-tray will not overwrite that profile.",
  keychain: "The keychain cannot be used.",
  name_taken: "That name is taken.",
  bad_name: "That name cannot be a profile.",
  bad_keys: "Those are not an access key.",
  bad_serial: "That is not an MFA device.",
  no_keys: "No keys found.",
  no_ask: "Nothing waits for that code now.",
  tray_unreachable: "The tray is not answering.",
  sso_login_required: "The session needs a sign-in.",
  sso_sign_in: "The sign-in did not complete.",
  unknown_sso_session: "No such session.",
  bad_start_url: "That is not a portal URL.",
  bad_region: "That is not a region.",
};
const VIEWS = ["code", "whoami", "account", "sso", "settings", "ask"];

let status = null;
let countdownTimer = null;
let submitting = false;

function show(view) {
  for (const v of VIEWS) {
    $("view-" + v).hidden = v !== view;
    const tab = $("tab-" + v);
    if (tab) tab.setAttribute("aria-current", v === view ? "page" : "false");
  }
  if (view === "ask") pollAsks();
  if (view === "code") $("code").focus();
  if (view === "whoami") fillWhoami();
  if (view === "settings") loadSettings();
  if (view === "account") fillAccounts();
  if (view === "sso") fillSso();
}

function viewFromHash() {
  const v = location.hash.replace("#", "");
  if (VIEWS.includes(v)) return v;
  // A first run: nothing to type a code for until there is an account.
  return status && !status.sessions.length ? "account" : "code";
}

function message(el, err) {
  const code = err && err.code ? err.code : "";
  const text = err && err.message ? err.message : String(err);
  el.textContent = (TITLES[code] ? TITLES[code] + " " : "") + text;
  el.hidden = false;
}

function left(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

function stateText(state, seconds) {
  if (state === "valid" || state === "expiring") return left(seconds) + " left" + (state === "expiring" ? " (expiring)" : "");
  return state === "expired" ? "expired" : "no credentials yet";
}

async function load() {
  const ui = await invoke("state");
  status = ui.status;
  const select = $("profile");
  const keep = select.value;
  select.replaceChildren();
  const sessions = document.createElement("optgroup");
  sessions.label = "MFA sessions";
  for (const s of status.sessions) sessions.append(new Option(s.name, "session:" + s.name));
  const roles = document.createElement("optgroup");
  roles.label = "Roles";
  // Roles tools fetch on demand are never switched to (nothing of theirs is written).
  for (const r of status.roles) if (!r.on_demand) roles.append(new Option(r.name + (r.active ? " (active)" : ""), "role:" + r.name));
  if (sessions.children.length) select.append(sessions);
  if (roles.children.length) select.append(roles);
  if (ui.pending) select.value = "role:" + ui.pending.profile;
  else if (keep) select.value = keep;
  if (!select.value && select.options.length) select.selectedIndex = 0;
  await explain(ui.pending ? ui.pending.reason : null);
  overview();
}

function overview() {
  const list = $("overview");
  list.replaceChildren();
  for (const s of status.sessions) {
    const li = document.createElement("li");
    li.className = "state-" + s.state;
    li.textContent = "MFA session " + s.name + ": " + stateText(s.state, s.seconds_left);
    list.append(li);
  }
  for (const r of status.roles) {
    const li = document.createElement("li");
    li.className = "state-" + r.state;
    li.textContent = (r.active ? "● " : "") + r.name + ": " + (r.on_demand ? "on demand, for tools (credential_process)" : stateText(r.state, r.seconds_left));
    list.append(li);
  }
  for (const p of status.problems) {
    const li = document.createElement("li");
    li.className = "problem";
    li.textContent = p.profile + ": " + p.message;
    list.append(li);
  }
  if (!list.children.length) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#account";
    a.textContent = "Add your AWS account";
    li.append("No account yet. ", a, " to start.");
    list.append(li);
  }
}

// The Identity Center view: sessions (sign in, sync), roles (use), a new session.
function button(text, onClick, secondary) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "inline" + (secondary ? " secondary" : "");
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

async function fillSso() {
  const ui = await invoke("state").catch(() => null);
  if (ui) status = ui.status;
  const list = $("sso-list");
  list.replaceChildren();
  for (const s of status.sso_sessions || []) {
    const li = document.createElement("li");
    li.className = "state-" + (s.renewable ? "valid" : s.state);
    const what = s.state === "absent" ? "not signed in" : s.renewable ? "signed in (renews itself)" : stateText(s.state, s.seconds_left);
    li.append(s.name + ": " + what);
    if (s.name !== s.start_url) {
      li.append(button("Sign in", () => ssoLogin(s.name, false)), button("With a code", () => ssoLogin(s.name, true), true), button("Add its roles", () => ssoSync(s.name), true));
    }
    list.append(li);
  }
  if (!list.children.length) {
    const li = document.createElement("li");
    li.textContent = "No session yet: add your company's AWS access portal below.";
    list.append(li);
  }
  const roles = $("sso-roles");
  roles.replaceChildren();
  for (const r of status.roles) {
    if (!r.identity_center) continue;
    const li = document.createElement("li");
    li.className = "state-" + (r.sections.length ? r.state : "valid");
    li.append((r.active ? "● " : "") + r.name + " (" + r.role_arn.split(":")[4] + ")");
    li.append(button(r.active ? "Active" : "Use", () => ssoUse(r.name), true));
    roles.append(li);
  }
  $("sso-roles-box").hidden = !roles.children.length;
}

let ssoTimer = null;
async function ssoLogin(name, deviceCode) {
  $("sso-error").hidden = true;
  for (const id of ["sso-browser", "sso-device", "sso-done"]) $(id).hidden = true;
  try {
    await invoke("sso_login", { name, deviceCode });
  } catch (err) {
    message($("sso-error"), err);
    return;
  }
  $("sso-progress").hidden = false;
  clearInterval(ssoTimer);
  ssoTimer = setInterval(async () => {
    const p = await invoke("sso_progress").catch(() => null);
    if (!p) return;
    $("sso-browser").hidden = !p.browser || !!p.done;
    if (p.user_code) {
      $("sso-uri").textContent = p.verification_uri;
      $("sso-code").textContent = p.user_code;
      $("sso-device").hidden = !!p.done;
    }
    if (p.done || p.error) {
      clearInterval(ssoTimer);
      if (p.done) {
        $("sso-done").textContent = p.done;
        $("sso-done").hidden = false;
      } else {
        $("sso-progress").hidden = true;
        message($("sso-error"), p.error);
      }
      fillSso();
    }
  }, 500);
}

async function ssoSync(name) {
  $("sso-error").hidden = true;
  try {
    $("sso-done").textContent = await invoke("sso_sync", { name });
    $("sso-done").hidden = false;
    $("sso-progress").hidden = false;
    $("sso-browser").hidden = true;
    $("sso-device").hidden = true;
  } catch (err) {
    message($("sso-error"), err);
  }
  fillSso();
}

async function ssoUse(role) {
  $("sso-error").hidden = true;
  try {
    const done = await invoke("assume", { role, code: null });
    $("sso-done").textContent = done.message;
    $("sso-done").hidden = false;
    $("sso-progress").hidden = false;
  } catch (err) {
    message($("sso-error"), err);
  }
  fillSso();
}

async function ssoAdd() {
  $("sso-error").hidden = true;
  try {
    const text = await invoke("sso_add", { name: $("sso-name").value, startUrl: $("sso-url").value, region: $("sso-region").value });
    $("sso-done").textContent = text;
    $("sso-done").hidden = false;
    $("sso-progress").hidden = false;
    $("sso-form").reset();
  } catch (err) {
    message($("sso-error"), err);
  }
  fillSso();
}

// Says whether the chosen profile needs a code, and why.
async function explain(reason) {
  const [kind, name] = $("profile").value.split(/:(.*)/s);
  const hint = $("reason");
  $("submit").textContent = "Continue";
  if (kind !== "role") {
    hint.hidden = true;
    return;
  }
  try {
    const choice = reason ? { needs_code: true, reason } : await invoke("choose_role", { role: name });
    hint.textContent = (choice.needs_code ? "Needs a code: assumed " : "No code needed: assumed ") + choice.reason + ".";
    hint.hidden = false;
    if (!choice.needs_code) $("submit").textContent = "Switch to " + name;
  } catch (err) {
    message(hint, err);
  }
}

async function submit() {
  if (submitting) return;
  // A code typed before the profiles arrived waits for them; if they cannot be read,
  // the code stays in the field and nothing is sent.
  if (!status) {
    submitting = true;
    await loading.catch(() => {});
    if (!status) await load().catch((err) => message($("error"), err));
    submitting = false;
    if (!status) return;
  }
  const [kind, name] = $("profile").value.split(/:(.*)/s);
  const code = $("code").value.replace(/\D/g, "");
  if (kind === "session" && code.length !== 6) {
    message($("error"), { code: "bad_code", message: "Type the 6 digits your authenticator shows." });
    return;
  }
  submitting = true;
  $("error").hidden = true;
  $("code").disabled = true;
  $("submit").disabled = true;
  let failure = null;
  try {
    const done = kind === "session"
      ? await invoke("login", { profile: name, code })
      : await invoke("assume", { role: name, code: code || null });
    result(done);
  } catch (err) {
    failure = err;
  }
  // Ready for the next code before the message shows, so typing on at once works.
  submitting = false;
  $("code").value = "";
  $("code").disabled = false;
  $("submit").disabled = false;
  $("code").focus();
  if (failure) message($("error"), failure);
  await load().catch(() => {});
}

function result(done) {
  $("result-title").textContent = done.profile + " valid until " + new Date(done.expires_at).toLocaleTimeString();
  $("result-message").textContent = done.message;
  $("result").hidden = false;
  const end = Date.parse(done.expires_at);
  clearInterval(countdownTimer);
  const tick = () => { $("countdown").textContent = left((end - Date.now()) / 1000); };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

async function fillWhoami() {
  const select = $("whoami-profile");
  const ui = status ? { status } : await invoke("state");
  const names = new Set([ui.status.target]);
  for (const s of ui.status.sessions) if (s.state !== "absent") names.add(s.name);
  for (const r of ui.status.roles) for (const sec of r.sections) names.add(sec);
  select.replaceChildren(...[...names].map((n) => new Option("[" + n + "]", n)));
}

async function whoami() {
  $("whoami-error").hidden = true;
  $("identity").hidden = true;
  $("buckets").replaceChildren();
  $("buckets-title").hidden = true;
  try {
    const who = await invoke("whoami", { profile: $("whoami-profile").value });
    $("id-account").textContent = who.account;
    $("id-arn").textContent = who.arn;
    $("id-user").textContent = who.user_id;
    $("identity").hidden = false;
    $("buckets-title").hidden = false;
    $("buckets-title").textContent = "S3 buckets (" + who.buckets.length + ")";
    for (const b of who.buckets) {
      const li = document.createElement("li");
      li.textContent = b.name;
      $("buckets").append(li);
    }
    if (who.buckets_error) message($("whoami-error"), who.buckets_error);
  } catch (err) {
    message($("whoami-error"), err);
  }
}

async function loadSettings() {
  const s = await invoke("get_settings");
  $("s-target").value = s.target_profile;
  $("s-suffix").value = s.long_term_suffix;
  $("s-notify").value = s.notify_before_minutes.join(", ");
  $("s-session").value = s.session_duration_seconds;
  $("s-role").value = s.role_duration_seconds;
  $("s-refresh").value = s.refresh_before_minutes;
  $("s-auto").checked = s.auto_refresh;
  $("s-login").checked = s.auto_login;
  // Not chosen yet (null): shown as undecided, and kept so unless clicked.
  $("s-start").indeterminate = s.start_at_login === null;
  $("s-start").checked = s.start_at_login === true;
  $("s-start-hint").hidden = s.start_at_login !== null;
}

async function saveSettings() {
  $("settings-error").hidden = true;
  $("settings-saved").hidden = true;
  const notify = $("s-notify").value.split(/[ ,]+/).filter(Boolean).map(Number);
  if (notify.some((n) => !Number.isInteger(n) || n < 0)) {
    message($("settings-error"), { message: "Lead times are whole minutes, like 15, 2." });
    return;
  }
  try {
    const saved = await invoke("save_settings", {
      settings: {
        target_profile: $("s-target").value,
        long_term_suffix: $("s-suffix").value,
        notify_before_minutes: notify,
        session_duration_seconds: Number($("s-session").value),
        role_duration_seconds: Number($("s-role").value),
        auto_refresh: $("s-auto").checked,
        auto_login: $("s-login").checked,
        start_at_login: $("s-start").indeterminate ? null : $("s-start").checked,
        refresh_before_minutes: Number($("s-refresh").value),
      },
    });
    $("s-start").indeterminate = saved.settings.start_at_login === null;
    $("s-start-hint").hidden = saved.settings.start_at_login !== null;
    $("settings-saved").textContent = saved.message;
    $("settings-saved").hidden = false;
  } catch (err) {
    message($("settings-error"), err);
  }
}

// Accounts: the new account's secret goes to the app once, then leaves the page.
function fillAccounts() {
  if (!status) return;
  const source = $("r-source");
  const keep = source.value;
  source.replaceChildren(...status.sessions.map((p) => new Option(p.name, p.name)));
  if (keep) source.value = keep;
  $("account-title").textContent = status.sessions.length ? "Add an AWS account" : "Add your AWS account";
  // Roles are assumed from an account: none to offer before there is one.
  $("roles").hidden = !status.sessions.length;
  const plain = status.sessions.filter((p) => p.keys === "file");
  $("imports").hidden = !plain.length;
  $("import-list").replaceChildren(...plain.map((p) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "inline";
    button.id = "import-" + p.name;
    button.textContent = "Move to the keychain";
    button.addEventListener("click", () => importKeys(p.name, button));
    li.append(p.name + ": keys in ~/.aws/credentials ", button);
    return li;
  }));
}

async function checkAccount() {
  $("account-error").hidden = true;
  const secret = $("a-secret");
  const args = {
    name: $("a-name").value,
    accessKeyId: $("a-key").value,
    secretAccessKey: secret.value,
    region: $("a-region").value || null,
  };
  // Sent once; the app keeps it until the account is added.
  secret.value = "";
  $("a-check").disabled = true;
  try {
    const checked = await invoke("check_account", args);
    $("a-who").textContent = "The key belongs to " + checked.arn + ".";
    const devices = $("a-device");
    devices.replaceChildren(...checked.devices.map((d) => new Option(d, d)));
    devices.append(new Option("Another device (type its ARN)…", ""));
    devices.hidden = false;
    $("a-serial").hidden = checked.devices.length > 0;
    if (checked.devices_error) $("a-who").textContent += " Your MFA devices could not be listed (" + checked.devices_error + "): type your device's ARN.";
    else if (!checked.devices.length) $("a-who").textContent += " This user has no MFA device yet: assign one in the IAM console, or type its ARN.";
    $("device-form").hidden = false;
    $("account-form").hidden = true;
    $("a-add").focus();
  } catch (err) {
    message($("account-error"), err);
    secret.focus();
  } finally {
    $("a-check").disabled = false;
  }
}

async function addAccount() {
  $("account-error").hidden = true;
  const serial = $("a-device").value || $("a-serial").value;
  try {
    const done = await invoke("add_account", { mfaSerial: serial });
    $("device-form").hidden = true;
    $("account-form").hidden = false;
    $("account-form").reset();
    await load();
    $("profile").value = "session:" + done.profile;
    await explain(null);
    location.hash = "#code";
    show("code");
    $("result").hidden = true;
    $("reason").textContent = done.message;
    $("reason").hidden = false;
  } catch (err) {
    message($("account-error"), err);
  }
}

async function importKeys(name, button) {
  $("account-error").hidden = true;
  button.disabled = true;
  try {
    $("role-done").textContent = await invoke("import_keys", { name });
    $("role-done").hidden = false;
    await load();
    fillAccounts();
  } catch (err) {
    button.disabled = false;
    message($("account-error"), err);
  }
}

async function addRole() {
  $("role-error").hidden = true;
  $("role-done").hidden = true;
  try {
    const text = await invoke("add_role", {
      name: $("r-name").value,
      arn: $("r-arn").value,
      source: $("r-source").value,
      externalId: $("r-external").value || null,
      credentialProcess: $("r-process").checked,
    });
    $("role-done").textContent = text;
    $("role-done").hidden = false;
    $("role-form").reset();
    await load();
    fillAccounts();
  } catch (err) {
    message($("role-error"), err);
  }
}

$("account-form").addEventListener("submit", (e) => { e.preventDefault(); checkAccount(); });
$("device-form").addEventListener("submit", (e) => { e.preventDefault(); addAccount(); });
$("a-device").addEventListener("change", () => { $("a-serial").hidden = $("a-device").value !== ""; });
$("role-form").addEventListener("submit", (e) => { e.preventDefault(); addRole(); });
// Back: the app forgets the keys; the form asks for them again.
function backToKeys() {
  invoke("cancel_account").catch(() => {});
  $("device-form").hidden = true;
  $("account-form").hidden = false;
  $("account-error").hidden = true;
}
$("a-back").addEventListener("click", () => { backToKeys(); $("a-secret").focus(); });
window.addEventListener("hashchange", () => { if (!$("device-form").hidden && viewFromHash() !== "account") backToKeys(); });

// Tools waiting for a code (credential_process): the tray knows them; the window asks
// it every second, whatever it shows. The ask view takes the code; other views show a
// banner that leads there. A window opened for an ask closes once nothing waits.
let asked = null;
let askSeen = false;
let askSending = false;
const openedForAsk = location.hash === "#ask";

function askText(a) {
  return a.tools.join(", ") + " asks for " + a.profiles.join(", ") + ". Type the MFA code of " + a.account + " (" + a.mfa_serial + ").";
}

async function pollAsks() {
  if (askSending) return;
  let list;
  try {
    list = await invoke("asks");
  } catch (err) {
    if (viewFromHash() === "ask") message($("ask-error"), err);
    return;
  }
  const inAsk = viewFromHash() === "ask";
  $("ask-banner").hidden = inAsk || !list.length;
  if (list.length) $("ask-banner-text").textContent = askText(list[0]);
  if (!inAsk) return;
  if (!list.length) {
    asked = null;
    $("ask-form").hidden = true;
    $("ask-who").textContent = "No tool is waiting for a code now.";
    // Done: the window goes, unless another tool has asked meanwhile.
    if (askSeen && openedForAsk) setTimeout(async () => { if (!(await invoke("asks").catch(() => [])).length) invoke("close_window"); }, 3000);
    return;
  }
  const a = list[0];
  if (!asked || asked.account !== a.account) {
    $("ask-code").value = "";
    $("ask-error").hidden = true;
    setTimeout(() => $("ask-code").focus(), 0);
  }
  asked = a;
  askSeen = true;
  $("ask-form").hidden = false;
  $("ask-who").textContent = askText(a);
}

async function sendAsk() {
  const code = $("ask-code").value.replace(/\D/g, "");
  if (!asked || askSending) return;
  askSending = true;
  $("ask-error").hidden = true;
  try {
    $("ask-done").textContent = await invoke("give_code", { account: asked.account, code });
    $("ask-done").hidden = false;
    $("ask-code").value = "";
  } catch (err) {
    message($("ask-error"), err);
    $("ask-code").value = "";
    $("ask-code").focus();
  } finally {
    askSending = false;
  }
  pollAsks();
}

$("ask-form").addEventListener("submit", (e) => { e.preventDefault(); sendAsk(); });
$("ask-code").addEventListener("input", () => {
  const digits = $("ask-code").value.replace(/\D/g, "").slice(0, 6);
  $("ask-code").value = digits;
  if (digits.length === 6) sendAsk();
});
$("ask-cancel").addEventListener("click", async () => {
  await invoke("cancel_asks", { account: asked ? asked.account : null }).catch(() => {});
  if (openedForAsk) invoke("close_window");
  else location.hash = "#code";
});
setInterval(pollAsks, 1000);

$("code").addEventListener("input", () => {
  // Digits only; a pasted "123 456" becomes "123456" and submits.
  const digits = $("code").value.replace(/\D/g, "").slice(0, 6);
  $("code").value = digits;
  if (digits.length === 6) submit();
});
$("code-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
$("profile").addEventListener("change", () => { explain(null); $("code").focus(); });
$("whoami-form").addEventListener("submit", (e) => { e.preventDefault(); whoami(); });
$("settings-form").addEventListener("submit", (e) => { e.preventDefault(); saveSettings(); });
$("sso-form").addEventListener("submit", (e) => { e.preventDefault(); ssoAdd(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") invoke("close_window"); });
window.addEventListener("hashchange", () => show(viewFromHash()));
setInterval(() => { if (!submitting) load().catch(() => {}); }, 30000);

// The code view the tray asked for shows at once: the field takes keys before the
// first round trip to the app, and the profiles and reasons fill in behind it. Other
// views (and a window opened without one) show once they have what they show.
const early = location.hash === "#code";
if (early) {
  show("code");
  invoke("ready").catch(() => {});
}
const loading = load();
loading
  .then(() => {
    if (early) return;
    show(viewFromHash());
    invoke("ready").catch(() => {});
  })
  .catch((err) => message($("error"), err));
