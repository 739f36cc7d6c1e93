// orchestrator-rs web UI: no framework, no build step. Reads the same /api
// as orchestrator-client; live through /api/ui/events (server-sent events).
"use strict";

const state = { canChange: false, cluster: null, clusters: [], events: [] };
window.orcState = state;

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
};

async function api(path) {
  const r = await fetch("api/" + path, { headers: { Accept: "application/json" } });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { Code: "ERROR", Message: text }; }
  if (!r.ok) {
    const why = (body && body.Message) || r.statusText;
    throw new Error(why);
  }
  return body;
}

const keyOf = (k) => (k && k.Hostname ? k.Hostname + ":" + k.Port : "");
const splitKey = (key) => {
  const i = key.lastIndexOf(":");
  return [key.slice(0, i), key.slice(i + 1)];
};

async function loadWho() {
  try {
    const me = await api("ui/whoami");
    state.canChange = !!me.CanChange;
    document.getElementById("who").textContent =
      (me.User || "anonymous") + (me.CanChange ? "" : " (read-only)");
  } catch (e) {
    document.getElementById("who").textContent = "";
  }
}

async function loadClusters() {
  const list = document.getElementById("clusters");
  try {
    state.clusters = await api("clusters-info");
  } catch (e) {
    list.replaceChildren(el("li", { class: "error" }, e.message));
    return;
  }
  list.replaceChildren(...state.clusters.map((c) =>
    el("li", {},
      el("a", {
        href: "#" + encodeURIComponent(c.ClusterName),
        "data-cluster": c.ClusterName,
        class: c.ClusterName === state.cluster ? "current" : "",
        onclick: (ev) => { ev.preventDefault(); show(c.ClusterName); },
      }, c.ClusterAlias || c.ClusterName, " ", el("span", { class: "badge" }, c.CountInstances)))));
  if (!state.cluster && state.clusters.length > 0) {
    const wanted = decodeURIComponent(location.hash.slice(1));
    const found = state.clusters.find((c) => c.ClusterName === wanted);
    show((found || state.clusters[0]).ClusterName);
  }
}

function lagOf(i) {
  const l = i.ReplicationLagSeconds || i.SecondsBehindMaster;
  return l && l.Valid ? l.Int64 : null;
}

function nodeOf(i, problems, isMaster) {
  const key = keyOf(i.Key);
  const badges = [];
  if (!i.IsLastCheckValid) badges.push(el("span", { class: "badge bad" }, "unreachable"));
  if (i.ReadOnly) badges.push(el("span", { class: "badge" }, "read-only"));
  else badges.push(el("span", { class: "badge ok" }, "writable"));
  const lag = lagOf(i);
  if (!isMaster) {
    if (lag === null) badges.push(el("span", { class: "badge warn" }, "lag ?"));
    else badges.push(el("span", { class: lag > 10 ? "badge warn" : "badge" }, "lag " + lag + "s"));
    if (i.ReplicationSQLThreadRuning === false || i.ReplicationIOThreadRuning === false)
      badges.push(el("span", { class: "badge bad" }, "not replicating"));
  }
  if (i.IsDowntimed) badges.push(el("span", { class: "badge warn", title: i.DowntimeReason || "" }, "downtimed"));
  if (i.PromotionRule && i.PromotionRule !== "neutral")
    badges.push(el("span", { class: "badge" }, i.PromotionRule));
  for (const p of (i.Problems || [])) badges.push(el("span", { class: "badge bad" }, p));
  const code = problems.get(key);
  if (code) badges.push(el("span", { class: "badge bad" }, code));
  let cls = "node";
  if (isMaster) cls += " master";
  if (code || (i.Problems || []).length) cls += " problem";
  if (!i.IsLastCheckValid) cls += " down";
  if (state.canChange && !isMaster) cls += " draggable";
  return el("div", {
    class: cls,
    "data-key": key,
    "data-master": keyOf(i.MasterKey),
    title: (i.Version || "") + (i.InstanceAlias ? " " + i.InstanceAlias : ""),
  }, el("span", { class: "key" }, key), " ", badges);
}

function tree(instances, problems) {
  const byKey = new Map(instances.map((i) => [keyOf(i.Key), i]));
  const children = new Map();
  const roots = [];
  for (const i of instances) {
    const m = keyOf(i.MasterKey);
    if (m && byKey.has(m) && m !== keyOf(i.Key)) {
      if (!children.has(m)) children.set(m, []);
      children.get(m).push(i);
    } else {
      roots.push(i);
    }
  }
  const sortByKey = (a, b) => keyOf(a.Key).localeCompare(keyOf(b.Key), undefined, { numeric: true });
  const item = (i, depth, seen) => {
    const key = keyOf(i.Key);
    const kids = seen.has(key) ? [] : (children.get(key) || []).sort(sortByKey);
    seen.add(key);
    return el("li", {}, nodeOf(i, problems, depth === 0 && !keyOf(i.MasterKey)),
      kids.length ? el("ul", {}, kids.map((k) => item(k, depth + 1, seen))) : null);
  };
  return el("ul", { class: "tree", id: "tree" }, roots.sort(sortByKey).map((r) => item(r, 0, new Set())));
}

async function show(cluster) {
  state.cluster = cluster;
  history.replaceState(null, "", "#" + encodeURIComponent(cluster));
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("current", a.dataset.cluster === cluster);
  }
  const section = document.getElementById("cluster");
  const [instances, analysis, recoveries] = await Promise.all([
    api("cluster/" + encodeURIComponent(cluster)).catch((e) => e),
    api("replication-analysis/" + encodeURIComponent(cluster)).catch((e) => e),
    api("audit-recovery/cluster/" + encodeURIComponent(cluster)).catch((e) => e),
  ]);
  if (state.cluster !== cluster) return;
  if (instances instanceof Error) {
    delete section.dataset.signature;
    section.replaceChildren(el("h2", {}, cluster), el("p", { class: "error" }, instances.message));
    return;
  }
  // Nothing to redraw when nothing changed (a redraw would drop a drag).
  const shown = (i) => [keyOf(i.Key), keyOf(i.MasterKey), i.ReadOnly, i.IsLastCheckValid, lagOf(i),
    i.IsDowntimed, i.PromotionRule, i.Problems, i.ReplicationSQLThreadRuning, i.ReplicationIOThreadRuning];
  const signature = JSON.stringify([
    instances instanceof Error ? instances.message : instances.map(shown),
    analysis instanceof Error ? null : (analysis.Details || []).map((d) => [keyOf(d.AnalyzedInstanceKey), d.Analysis]),
    recoveries instanceof Error ? null : recoveries.slice(0, 10).map((r) => [r.UID, r.IsActive, r.IsSuccessful])]);
  if (section.dataset.cluster === cluster && section.dataset.signature === signature) return;
  section.dataset.cluster = cluster;
  section.dataset.signature = signature;
  const details = analysis instanceof Error ? [] : (analysis.Details || []);
  const problems = new Map(details
    .filter((d) => d.Analysis && d.Analysis !== "NoProblem")
    .map((d) => [keyOf(d.AnalyzedInstanceKey), d.Analysis]));
  section.replaceChildren(
    el("h2", {}, "Cluster ", cluster),
    state.canChange ? el("p", { class: "muted" }, "Drag a replica onto another server to relocate it below that server.") : null,
    tree(instances, problems),
    el("h3", {}, "Analysis"),
    analysisTable(details),
    el("h3", {}, "Recent recoveries"),
    recoveriesList(recoveries instanceof Error ? [] : recoveries.slice(0, 10)),
  );
}

function analysisTable(details) {
  const rows = details.filter((d) => d.Analysis && d.Analysis !== "NoProblem");
  if (!rows.length) return el("p", { class: "muted", id: "analysis" }, "No problem.");
  return el("table", { id: "analysis" },
    el("tr", {}, el("th", {}, "Instance"), el("th", {}, "Analysis"), el("th", {}, "Structure")),
    rows.map((d) => el("tr", {},
      el("td", {}, keyOf(d.AnalyzedInstanceKey)),
      el("td", {}, el("span", { class: d.IsActionableProblem ? "badge bad" : "badge warn" }, d.Analysis)),
      el("td", {}, (d.StructureAnalysis || []).join(", ")))));
}

function recoveriesList(list) {
  if (!list.length) return el("p", { class: "muted", id: "recoveries" }, "None.");
  return el("div", { id: "recoveries" }, list.map((r) => {
    const steps = el("ol", { class: "steps" });
    const d = el("details", {
      ontoggle: async () => {
        if (!d.open || steps.childElementCount) return;
        try {
          const s = await api("audit-recovery-steps/" + encodeURIComponent(r.UID));
          steps.replaceChildren(...s.map((x) => el("li", {}, x.Message)));
        } catch (e) { steps.replaceChildren(el("li", { class: "error" }, e.message)); }
      },
    },
      el("summary", {},
        el("span", { class: r.IsSuccessful ? "badge ok" : (r.IsActive ? "badge warn" : "badge bad") },
          r.IsActive ? "active" : (r.IsSuccessful ? "successful" : "failed")),
        " ", (r.AnalysisEntry && r.AnalysisEntry.Analysis) || "", " on ",
        keyOf(r.AnalysisEntry && r.AnalysisEntry.AnalyzedInstanceKey), " → ",
        keyOf(r.SuccessorKey) || "no successor", " ",
        el("span", { class: "muted" }, r.RecoveryStartTimestamp)),
      steps);
    return d;
  }));
}

// Drag and drop with pointer events (mouse, pen and touch alike).
let drag = null;
document.addEventListener("pointerdown", (ev) => {
  const node = ev.target.closest(".node.draggable");
  if (!node || !state.canChange) return;
  ev.preventDefault();
  drag = { node, ghost: null, x: ev.clientX, y: ev.clientY, over: null };
});
document.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  if (!drag.ghost) {
    drag.ghost = drag.node.cloneNode(true);
    drag.ghost.classList.add("ghost");
    document.body.append(drag.ghost);
  }
  drag.ghost.style.left = ev.clientX + 8 + "px";
  drag.ghost.style.top = ev.clientY + 8 + "px";
  const under = document.elementFromPoint(ev.clientX, ev.clientY);
  const target = under && under.closest("#tree .node");
  if (drag.over && drag.over !== target) drag.over.classList.remove("drop-target");
  if (target && target !== drag.node) {
    target.classList.add("drop-target");
    drag.over = target;
  } else {
    drag.over = null;
  }
});
document.addEventListener("pointerup", (ev) => {
  if (!drag) return;
  const d = drag;
  drag = null;
  if (d.ghost) d.ghost.remove();
  if (d.over) d.over.classList.remove("drop-target");
  const under = document.elementFromPoint(ev.clientX, ev.clientY);
  const target = under && under.closest("#tree .node");
  if (target && target !== d.node) relocate(d.node.dataset.key, target.dataset.key);
});

async function relocate(key, below) {
  const [h, p] = splitKey(key);
  const [bh, bp] = splitKey(below);
  const path = ["relocate", h, p, bh, bp].map(encodeURIComponent).join("/");
  const dialog = document.getElementById("confirm");
  const ok = document.getElementById("confirm-ok");
  const err = document.getElementById("confirm-error");
  document.getElementById("confirm-title").textContent = "Relocate " + key + " below " + below + "?";
  const plan = document.getElementById("confirm-plan");
  plan.textContent = "Planning…";
  err.textContent = "";
  ok.disabled = true;
  dialog.showModal();
  try {
    const dry = await api(path + "?dry_run=true");
    plan.textContent = describePlan(dry.Details) || dry.Message;
    ok.disabled = false;
  } catch (e) {
    plan.textContent = "";
    err.textContent = "Refused: " + e.message;
    return;
  }
  const answer = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
  });
  if (answer !== "ok") return;
  try {
    await api(path);
  } catch (e) {
    alert("Relocate failed: " + e.message);
  }
  show(state.cluster);
}

function describePlan(p) {
  if (!p) return "";
  const lines = [p.Summary || ""];
  for (const ph of p.Phases || []) {
    lines.push("", ph.Label + ":");
    for (const lane of ph.Lanes || []) {
      for (const s of lane.Steps || []) lines.push("  - " + (typeof s.Action === "string" ? s.Action : JSON.stringify(s.Action)));
    }
  }
  for (const n of p.Notes || []) lines.push("note: " + n);
  return lines.join("\n");
}

function live() {
  const badge = document.getElementById("live");
  const source = new EventSource("api/ui/events");
  source.onopen = () => { badge.textContent = "live"; badge.className = "badge ok"; };
  source.onerror = () => { badge.textContent = "reconnecting"; badge.className = "badge off"; };
  source.onmessage = (ev) => {
    let e;
    try { e = JSON.parse(ev.data); } catch { return; }
    state.events = (state.events || []).concat([ev.data]).slice(-20);
    if (e.kind === "all" || e.gone || !state.clusters.some((c) => c.ClusterName === e.cluster)) loadClusters();
    if (e.kind === "all" || e.cluster === state.cluster) show(state.cluster);
  };
}

loadWho().then(loadClusters).then(live);
