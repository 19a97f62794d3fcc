"""The observer's page: one HTML document, its style and script inline, no library.

The script opens a server-sent events stream (``events?sort=...&page=...``)
and redraws from each snapshot; changing the sort, the page or the selected
process reopens the stream with the new parameters. Every value from the
node goes in through ``textContent``, never as HTML.
"""

from __future__ import annotations

from typing import Final

PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>greenserver observer</title>
<style>
  :root { --bg: #f7f7f5; --panel: #fff; --line: #ddd; --ink: #222; --dim: #777;
          --accent: #2a6f4e; --warn: #b15c00; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, sans-serif;
         background: var(--bg); color: var(--ink); }
  header { display: flex; gap: 24px; align-items: baseline; padding: 10px 16px;
           background: var(--accent); color: #fff; }
  header h1 { font-size: 16px; margin: 0; }
  header .figure b { font-size: 15px; }
  #live { margin-left: auto; }
  #live.down { color: #ffd27f; }
  main { display: grid; grid-template-columns: 300px 1fr 360px; gap: 12px; padding: 12px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 4px;
            padding: 8px 10px; overflow: auto; }
  h2 { font-size: 13px; margin: 0 0 6px; text-transform: uppercase; color: var(--dim); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; white-space: nowrap; }
  th[data-sort] { cursor: pointer; user-select: none; }
  th[data-sort].sorted { color: var(--accent); }
  td.num, th.num { text-align: right; }
  tr[data-pid] { cursor: pointer; }
  tr[data-pid]:hover { background: #eef5f0; }
  tr.selected { background: #dcefe4; }
  .pid { font-family: ui-monospace, monospace; }
  .dim { color: var(--dim); }
  .behaviour { color: var(--accent); }
  #pager { display: flex; gap: 8px; align-items: center; margin-top: 6px; }
  ul.tree { list-style: none; padding-left: 14px; margin: 0; }
  #trees > ul.tree { padding-left: 0; }
  .node { cursor: pointer; }
  .node:hover { text-decoration: underline; }
  #detail dl { display: grid; grid-template-columns: 110px 1fr; gap: 2px 8px; margin: 0; }
  #detail dt { color: var(--dim); }
  #detail dd { margin: 0; word-break: break-all; }
  pre { white-space: pre-wrap; word-break: break-all; background: #f3f3f0; padding: 6px;
        margin: 4px 0; max-height: 260px; overflow: auto; }
  #warnings { grid-column: 1 / -1; max-height: 220px; }
  #warnings li { color: var(--warn); margin-bottom: 4px; }
</style>
</head>
<body>
<header>
  <h1>greenserver observer</h1>
  <span class="figure">node <b id="node-name">-</b></span>
  <span class="figure">connected <b id="node-list">-</b></span>
  <span class="figure">processes <b id="processes-count">-</b></span>
  <span class="figure">queued messages <b id="queued-count">-</b></span>
  <span class="figure">registered names <b id="registered-count">-</b></span>
  <span class="figure">collector <b id="collector-share">-</b></span>
  <span id="live">connecting</span>
</header>
<main>
  <section id="trees"><h2>Supervision trees</h2><div id="tree-list"></div></section>
  <section>
    <h2>Processes</h2>
    <table id="processes">
      <thead><tr>
        <th data-sort="pid">pid</th><th data-sort="name">name</th>
        <th data-sort="current">class / function</th><th>status</th>
        <th data-sort="mailbox" class="num">mailbox</th><th data-sort="in" class="num">in</th>
        <th data-sort="out" class="num">out</th>
        <th data-sort="activity" class="num">in/s</th><th data-sort="memory" class="num">memory</th>
        <th data-sort="links" class="num">links</th>
        <th data-sort="monitors" class="num">monitors</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <div id="pager">
      <button id="prev">&larr; prev</button><span id="page">-</span>
      <button id="next">next &rarr;</button>
    </div>
  </section>
  <section id="detail"><h2>Process</h2><p class="dim">Click a process to see it here.</p></section>
  <section id="warnings"><h2>System monitor</h2><ul id="warning-list"></ul></section>
</main>
<script>
"use strict";
const params = {sort: "pid", desc: "0", page: "0", detail: ""};
let source = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function bytes(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : (n / 1024).toFixed(1) + " KB";
}

function select(pid) {
  params.detail = pid;
  connect();
}

function connect() {
  if (source) source.close();
  source = new EventSource("events?" + new URLSearchParams(params));
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onopen = () => { live("live"); };
  source.onerror = () => { live("reconnecting", true); };
}

function live(text, down) {
  const badge = document.getElementById("live");
  badge.textContent = text;
  badge.className = down ? "down" : "";
}

function render(snap) {
  live("live \u2022 " + new Date(snap.summary.time * 1000).toLocaleTimeString());
  document.getElementById("node-name").textContent = snap.summary.node || "not distributed";
  document.getElementById("node-list").textContent = snap.summary.nodes.join(", ") || "none";
  document.getElementById("processes-count").textContent = snap.summary.processes.toLocaleString();
  document.getElementById("queued-count").textContent = snap.summary.queued.toLocaleString();
  document.getElementById("registered-count").textContent = snap.summary.registered;
  document.getElementById("collector-share").textContent =
    (snap.collector.share * 100).toFixed(1) + "% \u2022 " +
    snap.collector.last_ms.toFixed(1) + " ms";
  renderTable(snap.table);
  renderTrees(snap.trees);
  renderDetail(snap.detail);
  renderWarnings(snap.warnings);
}

function renderTable(table) {
  for (const th of document.querySelectorAll("th[data-sort]")) {
    const sorted = th.dataset.sort === table.sort;
    th.classList.toggle("sorted", sorted);
    th.dataset.arrow = sorted ? (table.descending ? "desc" : "asc") : "";
    th.textContent = th.textContent.replace(/ [\u25b2\u25bc]$/, "") +
      (sorted ? (table.descending ? " \u25bc" : " \u25b2") : "");
  }
  const body = document.querySelector("#processes tbody");
  body.replaceChildren(...table.rows.map((row) => el("tr",
    {"data-pid": row.pid, class: row.pid === params.detail ? "selected" : "",
     onclick: () => select(row.pid)},
    el("td", {class: "pid"}, row.pid), el("td", {}, row.name || ""),
    el("td", {class: row.behaviour ? "behaviour" : ""}, row.current),
    el("td", {}, row.status), el("td", {class: "num"}, row.mailbox.toLocaleString()),
    el("td", {class: "num"}, row.in.toLocaleString()),
    el("td", {class: "num"}, row.out.toLocaleString()), el("td", {class: "num"}, row.activity),
    el("td", {class: "num"}, bytes(row.memory)), el("td", {class: "num"}, row.links),
    el("td", {class: "num"}, row.monitors))));
  document.getElementById("page").textContent =
    "page " + (table.page + 1) + " of " + table.pages.toLocaleString() +
    " (" + table.total.toLocaleString() + " processes)";
  document.getElementById("prev").disabled = table.page === 0;
  document.getElementById("next").disabled = table.page + 1 >= table.pages;
  params.page = String(table.page);
}

function treeItem(node) {
  const label = [node.id ? node.id + " " : "", node.pid || "(not running)"];
  const item = el("li", {"data-tree-pid": node.pid || ""},
    el("span", {class: "node", onclick: () => node.pid && select(node.pid)},
      label.join(""), " ", el("span", {class: "dim"},
        [node.name ? "'" + node.name + "'" : "", node.current || "", node.status,
         node.mailbox ? "mailbox " + node.mailbox : ""].filter(Boolean).join(" \u00b7 "))));
  if (node.children) {
    const list = el("ul", {class: "tree"}, ...node.children.map(treeItem));
    if (node.more) {
      list.append(el("li", {class: "dim"}, "\u2026 and " + node.more.toLocaleString() + " more"));
    }
    item.append(list);
  }
  return item;
}

function renderTrees(trees) {
  const holder = document.getElementById("tree-list");
  holder.replaceChildren(trees.length ? el("ul", {class: "tree"}, ...trees.map(treeItem))
                                      : el("p", {class: "dim"}, "No supervisor is running."));
}

function pidLink(pid) {
  const go = (event) => { event.preventDefault(); if (pid) select(pid); };
  return el("a", {href: "#", class: "pid", onclick: go}, pid || "?");
}

function pidList(pids) {
  if (!pids.length) return el("span", {class: "dim"}, "none");
  const span = el("span", {});
  pids.forEach((pid, i) => {
    if (i) span.append(", ");
    span.append(pidLink(pid));
  });
  return span;
}

function renderDetail(d) {
  const box = document.getElementById("detail");
  if (!d) {
    box.replaceChildren(el("h2", {}, "Process"),
                        el("p", {class: "dim"}, "Click a process to see it here."));
    return;
  }
  const rows = [["pid", d.pid], ["name", d.name || ""], ["runs", d.current || ""],
    ["status", d.status], ["mailbox", d.mailbox], ["messages in", d.in], ["messages out", d.out],
    ["memory", d.memory === undefined ? "" : bytes(d.memory)], ["trap_exit", d.trap_exit],
    ["links", pidList(d.links || [])], ["monitors", pidList(d.monitors || [])],
    ["monitored by", pidList(d.monitored_by || [])]];
  const list = el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const parts = [el("h2", {}, "Process " + d.pid), list];
  if (d.sys) {
    parts.push(el("h2", {style: "margin-top:10px"}, d.sys.class + " (" + d.sys.status + ")"),
      el("dl", {}, el("dt", {}, "parent"), el("dd", {}, pidList([d.sys.parent])),
                   el("dt", {}, "debug"), el("dd", {}, d.sys.debug.join(", ") || "none")),
      el("h2", {style: "margin-top:10px"}, "State (through sys)"),
      el("pre", {id: "state"}, d.sys.state));
  } else if (d.sys_error) {
    parts.push(el("p", {class: "dim"}, "sys: " + d.sys_error));
  } else if (d.status !== "dead") {
    parts.push(el("p", {class: "dim"}, "A plain process: it is described from the kernel's " +
                                       "process info and never sent anything."));
  }
  box.replaceChildren(...parts);
}

function renderWarnings(warnings) {
  const list = document.getElementById("warning-list");
  if (!warnings.length) {
    list.replaceChildren(el("li", {class: "dim"}, "No warnings."));
    return;
  }
  list.replaceChildren(...warnings.map((w) => el("li", {"data-kind": w.kind},
    new Date(w.time * 1000).toLocaleTimeString(), " ", w.kind, " ",
    pidLink(w.pid),
    " ", w.current || "",
    w.kind === "long_schedule"
      ? " ran " + Math.round(w.ran_for * 1000) + " ms at " + (w.where || "?")
      : " has " + (w.message_queue_len || 0).toLocaleString() + " messages queued")));
}

for (const th of document.querySelectorAll("th[data-sort]")) {
  th.addEventListener("click", () => {
    params.desc = params.sort === th.dataset.sort && params.desc === "0" ? "1" : "0";
    if (params.sort !== th.dataset.sort) {  // text columns ascend first, figures descend
      params.desc = ["pid", "name", "current"].includes(th.dataset.sort) ? "0" : "1";
    }
    params.sort = th.dataset.sort;
    params.page = "0";
    connect();
  });
}
function turn(by) {
  params.page = String(Math.max(0, +params.page + by));
  connect();
}
document.getElementById("prev").addEventListener("click", () => turn(-1));
document.getElementById("next").addEventListener("click", () => turn(1));
connect();
</script>
</body>
</html>
"""
