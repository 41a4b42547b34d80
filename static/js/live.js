// Live updates (Server-Sent Events from the live service, see live/ and README "Live events").
// One EventSource per page: a board follows its team, a task page its task's comments, every
// page the person's bell. Events only say what changed; the page re-fetches the affected
// columns, comment list or bell with htmx (the same pages and partials as without live
// updates). When the stream cannot be kept, the page falls back to polling.
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="tf-live"]');
  if (!meta) return;
  const base = meta.content.replace(/\/$/, "");
  const board = document.querySelector("[data-live-board]");
  const taskPage = document.querySelector("[data-live-task]");
  const POLL_MS = 30000;
  const background = { "X-Background": "1" }; // refreshes keep no session alive

  function here() {
    return window.location.pathname + window.location.search; // keeps the board's filters
  }

  // Coalesce bursts (a few events in one tick become one refresh per column).
  const pending = new Set();
  let timer = null;
  function refreshColumns(statuses) {
    if (!board) return;
    statuses.forEach((s) => s && pending.add(s));
    if (timer) return;
    timer = window.setTimeout(() => {
      timer = null;
      const wanted = Array.from(pending);
      pending.clear();
      wanted.forEach((status) => {
        const id = "col-" + status;
        if (!document.getElementById(id)) return;
        window.htmx.ajax("GET", here(), { target: "#" + id, select: "#" + id, swap: "outerHTML", headers: background });
      });
    }, 30);
  }

  function allColumns() {
    return Array.from(document.querySelectorAll("[data-live-board] [data-status]")).map((c) => c.dataset.status);
  }

  function refreshComments() {
    if (!document.getElementById("comment-list")) return;
    window.htmx.ajax("GET", window.location.pathname, {
      target: "#comment-list", select: "#comment-list", swap: "outerHTML", headers: background,
    });
  }

  function refreshBell() {
    const bell = document.getElementById("bell");
    const url = bell && bell.getAttribute("hx-get");
    if (url) window.htmx.ajax("GET", url, { target: "#bell", swap: "outerHTML", headers: background });
  }

  function refreshAll() {
    refreshColumns(allColumns());
    refreshComments();
    refreshBell();
  }

  let polling = null;
  function fallBackToPolling() {
    // The bell keeps its own htmx polling; the board and comments poll here.
    if (polling || !(board || taskPage)) return;
    polling = window.setInterval(refreshAll, POLL_MS);
  }

  if (!window.EventSource) {
    fallBackToPolling();
    return;
  }

  let url = base + "/me/";
  if (board) url = base + "/board/" + board.dataset.liveBoard + "/";
  else if (taskPage) url = base + "/board/" + taskPage.dataset.liveTeam + "/?task=" + taskPage.dataset.liveTask;

  const source = new EventSource(url, { withCredentials: true });
  document.documentElement.dataset.live = "connecting";
  source.addEventListener("open", () => {
    document.documentElement.dataset.live = "open";
  });
  source.addEventListener("board", (event) => {
    const data = JSON.parse(event.data);
    refreshColumns([data.old_status, data.status]);
  });
  source.addEventListener("comment", (event) => {
    const data = JSON.parse(event.data);
    if (taskPage && data.task_id === taskPage.dataset.liveTask) refreshComments();
  });
  source.addEventListener("bell", refreshBell);
  source.addEventListener("resync", refreshAll); // missed more than the server still keeps
  source.addEventListener("end", () => {
    // No longer allowed (signed out, left the team): stop reconnecting; polling shows the truth.
    source.close();
    document.documentElement.dataset.live = "closed";
    fallBackToPolling();
  });
  source.addEventListener("error", () => {
    // The browser retries by itself (the server's retry: hint) unless the stream was refused.
    if (source.readyState === EventSource.CLOSED) {
      document.documentElement.dataset.live = "closed";
      fallBackToPolling();
    } else {
      document.documentElement.dataset.live = "connecting";
    }
  });
  window.addEventListener("pagehide", () => source.close());
})();
