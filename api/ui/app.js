// The status page: sites -> buildings -> rooms -> assets, kept live by the API's event stream.
// No build step and no dependency: plain DOM, fetch and a small server-sent-events reader
// (EventSource cannot send the Authorization header the API requires).
"use strict";

const TEXTS = {
  en: {
    title: "Facility status",
    attention: "Needs attention",
    allClear: "All clear: no open alert, nothing faulty or offline.",
    problemsOnly: "Only problems",
    signIn: "Sign in",
    signOut: "Sign out",
    token: "API token",
    tokenHelp: "Paste a viewer token. An administrator creates one with: facmon api create-token --role viewer",
    refused: "The token was refused: ",
    unplaced: "Not in a room",
    noRooms: "No rooms yet",
    noAssets: "No assets",
    nothing: "Nothing is registered yet: add sites, rooms and assets through the API, or import a ledger.",
    more: (n) => `${n} more`,
    connecting: "Connecting…",
    loading: "Loading the current state of the estate…",
    live: (time) => `Live · ${time}`,
    reconnecting: (s) => `Connection lost, retrying in ${s} s`,
    apiDocs: "API documentation",
    otherLanguage: "中文",
    status: {
      ok: "OK", fault: "Fault", offline: "Offline", idle: "Idle",
      maintenance: "Maintenance", unknown: "Unknown",
    },
    severity: { critical: "Critical", warning: "Warning", info: "Info" },
    acknowledged: "acknowledged",
  },
  zh: {
    title: "设施状态",
    attention: "需要关注",
    allClear: "一切正常：没有未处理的告警，没有故障或离线的设备。",
    problemsOnly: "只看异常",
    signIn: "登录",
    signOut: "退出",
    token: "API 令牌",
    tokenHelp: "请粘贴查看者令牌。管理员可用以下命令创建：facmon api create-token --role viewer",
    refused: "令牌被拒绝：",
    unplaced: "未分配房间",
    noRooms: "暂无房间",
    noAssets: "暂无资产",
    nothing: "尚未登记任何内容：请通过 API 添加场所、房间和资产，或导入资产台账。",
    more: (n) => `另有 ${n} 项`,
    connecting: "正在连接…",
    loading: "正在载入当前状态…",
    live: (time) => `实时 · ${time}`,
    reconnecting: (s) => `连接中断，${s} 秒后重试`,
    apiDocs: "API 文档",
    otherLanguage: "English",
    status: {
      ok: "正常", fault: "故障", offline: "离线", idle: "闲置",
      maintenance: "维修中", unknown: "未知",
    },
    severity: { critical: "严重", warning: "警告", info: "提示" },
    acknowledged: "已确认",
  },
};

// Most severe first: the order of the counts, of a room's assets and of the attention list.
const ORDER = ["fault", "offline", "unknown", "maintenance", "idle", "ok"];
const PROBLEMS = new Set(["fault", "offline"]);
const SHOWN = 12; // assets listed in a room before the rest fold away
const TOKEN_KEY = "facmon.token";
const LANGUAGE_KEY = "facmon.language";

const state = {
  token: null,
  language: "en",
  overview: null,
  alerts: [], // open alerts, most severe first
  assets: new Map(), // id -> asset line
  places: new Map(), // id -> {site, building, room} (objects of the overview) or null
  rooms: new Map(), // room id -> room of the overview
  connection: null, // AbortController of the open stream
  retryMs: 1000,
  retryTimer: null,
};

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function texts() {
  return TEXTS[state.language];
}

function chooseLanguage() {
  const chosen = localStorage.getItem(LANGUAGE_KEY);
  if (chosen in TEXTS) return chosen;
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary in TEXTS) return primary;
  }
  return "en";
}

// A token given in the address (#token=...) is kept and removed from the address bar: the
// fragment never reaches the server, so it is not in any access log.
function takeToken() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY);
}

function applyTexts() {
  const t = texts();
  document.documentElement.lang = state.language === "zh" ? "zh-CN" : "en";
  document.title = `${t.title} · facmon`;
  $("title").textContent = t.title;
  for (const node of document.querySelectorAll("[data-text]")) {
    node.textContent = t[node.dataset.text];
  }
  const other = state.language === "zh" ? "en" : "zh";
  $("language").textContent = t.otherLanguage;
  $("language").lang = other === "zh" ? "zh-CN" : "en";
  if (state.overview) render();
}

function setConnection(name, detail) {
  const node = $("connection");
  node.dataset.state = name;
  const t = texts();
  node.textContent = name === "live" ? t.live(detail) : name === "reconnecting"
    ? t.reconnecting(detail) : name === "connecting" ? t.connecting : "";
}

// ---- the stream ------------------------------------------------------------------------

async function connect() {
  clearTimeout(state.retryTimer);
  if (state.connection) state.connection.abort();
  const connection = (state.connection = new AbortController());
  setConnection("connecting");
  // Until the first overview arrives there is nothing true to show: no counts, no board.
  $("signin").hidden = true;
  $("loading").hidden = state.overview !== null;
  let response;
  try {
    response = await fetch(`/api/v1/overview/stream?lang=${state.language}`, {
      headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
      signal: connection.signal,
      cache: "no-store",
    });
  } catch {
    if (!connection.signal.aborted) retryLater(connection);
    return;
  }
  if (response.status === 401 || response.status === 403) {
    signOut(await detailOf(response));
    return;
  }
  if (!response.ok || !response.body) {
    retryLater(connection);
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        handle(block);
      }
    }
  } catch {
    // the connection broke or was aborted
  }
  if (!connection.signal.aborted && state.token) retryLater(connection);
}

function retryLater(connection) {
  if (connection !== state.connection) return;
  const seconds = Math.round(state.retryMs / 1000);
  setConnection("reconnecting", seconds);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 30000);
}

async function detailOf(response) {
  try {
    return (await response.json()).detail || response.statusText;
  } catch {
    return response.statusText;
  }
}

function handle(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  const payload = JSON.parse(data.join("\n"));
  if (name === "overview") showOverview(payload);
  else if (name === "status") showChanges(payload);
  else if (name === "alerts") showAlerts(payload);
  else if (name === "revoked") signOut(payload.detail);
}

// ---- the model -------------------------------------------------------------------------

function showOverview(overview) {
  state.overview = overview;
  state.assets.clear();
  state.places.clear();
  state.rooms.clear();
  for (const site of overview.sites) {
    for (const building of site.buildings) {
      for (const room of building.rooms) {
        state.rooms.set(room.id, room);
        for (const asset of room.assets) {
          state.assets.set(asset.id, asset);
          state.places.set(asset.id, { site, building, room });
        }
      }
    }
  }
  for (const asset of overview.unplaced) {
    state.assets.set(asset.id, asset);
    state.places.set(asset.id, null);
  }
  state.retryMs = 1000;
  $("signin").hidden = true;
  $("loading").hidden = true;
  $("board").hidden = false;
  $("signout").hidden = false;
  render();
  setConnection("live", new Date().toLocaleTimeString(state.language === "zh" ? "zh-CN" : "en"));
}

function showChanges(changes) {
  const rooms = new Set();
  let unplaced = false;
  for (const line of changes.assets) {
    const asset = state.assets.get(line.id);
    if (!asset) continue;
    Object.assign(asset, line);
    const place = state.places.get(line.id);
    if (place) rooms.add(place.room.id);
    else unplaced = true;
  }
  state.overview.counts = changes.counts;
  renderCounts();
  renderAttention();
  for (const id of rooms) {
    const old = document.querySelector(`[data-room="${CSS.escape(id)}"]`);
    if (old) old.replaceWith(roomCard(state.rooms.get(id)));
  }
  if (unplaced) renderSites();
  else markProblems();
  setConnection("live", new Date().toLocaleTimeString(state.language === "zh" ? "zh-CN" : "en"));
}

function showAlerts(alerts) {
  state.alerts = alerts;
  if (state.overview) renderAttention();
}

function bySeverity(a, b) {
  return ORDER.indexOf(a.status) - ORDER.indexOf(b.status) || a.name.localeCompare(b.name);
}

// ---- drawing ---------------------------------------------------------------------------

function render() {
  renderCounts();
  renderAttention();
  renderSites();
}

function badge(status) {
  return element("span", { class: `badge ${status}`, text: texts().status[status] });
}

function renderCounts() {
  const list = $("counts");
  list.replaceChildren(
    ...ORDER.map((status) =>
      element(
        "li",
        { class: `count ${status}`, "data-count": status },
        element("strong", { text: String(state.overview.counts[status] ?? 0) }),
        element("span", { text: texts().status[status] }),
      ),
    ),
  );
}

function placeText(place) {
  if (!place) return texts().unplaced;
  return `${place.site.name} / ${place.building.name} / ${place.room.name}`;
}

function renderAttention() {
  const problems = [...state.assets.values()].filter((a) => PROBLEMS.has(a.status)).sort(bySeverity);
  $("attention-list").replaceChildren(
    ...problems.map((asset) => {
      const place = state.places.get(asset.id);
      const link = element("a", { text: asset.name });
      if (place) link.href = `#room-${place.room.id}`;
      return element(
        "li",
        { "data-asset": asset.id, "data-status": asset.status },
        badge(asset.status),
        element("span", { class: "name" }, link),
        element("span", { class: "place", text: placeText(place) }),
        element("span", { class: "reason", text: asset.reason }),
      );
    }),
  );
  const t = texts();
  $("alert-list").replaceChildren(
    ...state.alerts.map((alert) => {
      const asset = alert.asset ? state.assets.get(alert.asset) : null;
      const place = alert.asset ? state.places.get(alert.asset) : null;
      const acknowledged = alert.state === "acknowledged" ? ` · ${t.acknowledged}` : "";
      return element(
        "li",
        { class: "alert", "data-alert": alert.id, "data-severity": alert.severity },
        element("span", { class: `badge ${alert.severity}`, text: t.severity[alert.severity] || alert.severity }),
        element("span", { class: "name", text: asset ? asset.name : alert.summary }),
        place ? element("span", { class: "place", text: placeText(place) }) : null,
        element(
          "span",
          { class: "reason" },
          alert.summary,
          // The summary is of the moment it fired; its points then and now, labelled by the API.
          alert.readings_text ? element("span", { class: "readings", text: ` · ${alert.readings_text}` }) : null,
          acknowledged,
        ),
      );
    }),
  );
  const count = problems.length + state.alerts.length;
  $("all-clear").hidden = count > 0;
  $("attention").dataset.problems = String(count);
}

function assetItem(asset) {
  return element(
    "li",
    { class: "asset", "data-asset": asset.id, "data-status": asset.status, title: asset.reason },
    badge(asset.status),
    element("span", { class: "name", text: asset.name }),
    asset.status === "ok" ? null : element("span", { class: "reason", text: asset.reason }),
  );
}

function roomCard(room) {
  const assets = [...room.assets].sort(bySeverity);
  const problems = assets.filter((a) => PROBLEMS.has(a.status)).length;
  const card = element(
    "article",
    { class: "room", id: `room-${room.id}`, "data-room": room.id, "data-problems": String(problems) },
    room.name &&
      element(
        "header",
        {},
        element("h4", { text: room.name }),
        element("span", { class: "floor", text: room.floor }),
      ),
  );
  if (!assets.length) {
    card.append(element("p", { class: "empty", text: texts().noAssets }));
    return card;
  }
  const shown = Math.max(SHOWN, problems);
  card.append(element("ul", { class: "assets" }, ...assets.slice(0, shown).map(assetItem)));
  if (assets.length > shown) {
    card.append(
      element(
        "details",
        {},
        element("summary", { text: texts().more(assets.length - shown) }),
        element("ul", { class: "assets" }, ...assets.slice(shown).map(assetItem)),
      ),
    );
  }
  return card;
}

function renderSites() {
  const t = texts();
  const sections = state.overview.sites.map((site) =>
    element(
      "section",
      { class: "site", "data-site": site.id },
      element("h2", { text: site.name }),
      ...site.buildings.map((building) =>
        element(
          "section",
          { class: "building", "data-building": building.id },
          element("h3", { text: building.name }),
          building.rooms.length
            ? element("div", { class: "rooms" }, ...building.rooms.map(roomCard))
            : element("p", { class: "empty", text: t.noRooms }),
        ),
      ),
    ),
  );
  if (state.overview.unplaced.length) {
    const unplaced = { id: "", name: "", floor: "", assets: state.overview.unplaced };
    const card = roomCard(unplaced);
    card.removeAttribute("id");
    card.removeAttribute("data-room");
    sections.push(
      element(
        "section",
        { class: "site unplaced" },
        element("h2", { text: t.unplaced }),
        element("div", { class: "rooms" }, card),
      ),
    );
  }
  if (!sections.length) sections.push(element("p", { class: "empty", text: t.nothing }));
  $("sites").replaceChildren(...sections);
  markProblems();
}

// Buildings and sites say whether any of their rooms has a problem, for "only problems".
function markProblems() {
  for (const group of document.querySelectorAll(".building, .site")) {
    const any = group.querySelector('.room:not([data-problems="0"])');
    group.dataset.problems = any ? "1" : "0";
  }
}

// ---- signing in and out ------------------------------------------------------------------

function signOut(detail) {
  if (state.connection) state.connection.abort();
  clearTimeout(state.retryTimer);
  state.token = null;
  localStorage.removeItem(TOKEN_KEY);
  setConnection("signed-out");
  state.overview = null;
  $("loading").hidden = true;
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = detail ? texts().refused + detail : "";
  $("token").focus();
}

function start() {
  state.language = chooseLanguage();
  applyTexts();
  $("language").addEventListener("click", () => {
    state.language = state.language === "zh" ? "en" : "zh";
    localStorage.setItem(LANGUAGE_KEY, state.language);
    applyTexts();
    if (state.token) connect(); // reasons come from the API in the chosen language
  });
  $("problems").addEventListener("change", (event) => {
    document.body.classList.toggle("problems-only", event.target.checked);
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    localStorage.setItem(TOKEN_KEY, token);
    state.token = token;
    $("token").value = "";
    connect();
  });
  state.token = takeToken();
  if (state.token) connect();
  else signOut("");
}

start();
