// Tasks app enhancements; every action also works through plain buttons and forms.
(function () {
  "use strict";

  // Drag a card onto another column: one htmx request per move (same endpoint as the buttons).
  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".task-card[draggable=true]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.id);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", (event) => {
    const column = event.target.closest && event.target.closest(".column");
    if (column) { event.preventDefault(); column.classList.add("drop-target"); }
  });
  document.addEventListener("dragleave", (event) => {
    const column = event.target.closest && event.target.closest(".column");
    if (column) column.classList.remove("drop-target");
  });
  document.addEventListener("drop", (event) => {
    const column = event.target.closest && event.target.closest(".column");
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = document.getElementById(event.dataTransfer.getData("text/plain"));
    if (!card || !window.htmx) return;
    const status = column.dataset.status;
    if (card.closest(".column") === column) return;
    if (!(card.dataset.moves || "").split(" ").includes(status)) {
      const flash = document.getElementById("board-flash");
      const live = document.getElementById("board-live");
      const text = "That move is not allowed from this column.";
      if (flash) flash.innerHTML = '<div class="flash flash-error">' + text + "</div>";
      if (live) live.textContent = text;
      return;
    }
    window.htmx.ajax("POST", card.dataset.moveUrl, {
      target: "#board-flash", swap: "innerHTML", values: { status: status, version: card.dataset.version },
    });
  });

  // After a move the card is rendered again in its column (the old element, with the button
  // that had the focus, is gone): give the focus to the moved card, so keyboard and screen-reader
  // users stay where they were. The server names it (HX-Trigger-After-Settle: tf-card-moved);
  // #board-live announces the move.
  document.addEventListener("tf-card-moved", (event) => {
    const card = event.detail && document.getElementById(event.detail.card);
    if (card) card.focus();
  });

  // @mention autocomplete: ask the server (htmx) for team members matching the word being typed.
  let timer = null;
  document.addEventListener("input", (event) => {
    const area = event.target;
    if (!area.matches || !area.matches("textarea[data-mention-url]")) return;
    const before = area.value.slice(0, area.selectionStart);
    const match = /(?:^|\s)@([\w.+-]{0,40})$/.exec(before);
    const box = document.getElementById("mention-suggestions");
    if (!box) return;
    if (!match) { box.innerHTML = ""; return; }
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (window.htmx) {
        window.htmx.ajax("GET", area.dataset.mentionUrl + "?q=" + encodeURIComponent(match[1]), { target: box, swap: "innerHTML" });
      }
    }, 200);
  });
  document.addEventListener("click", (event) => {
    const pick = event.target.closest && event.target.closest("[data-mention-insert]");
    if (!pick) return;
    const area = document.querySelector("textarea[data-mention-url]");
    if (!area) return;
    const cursor = area.selectionStart;
    const before = area.value.slice(0, cursor).replace(/@[\w.+-]*$/, pick.dataset.mentionInsert + " ");
    area.value = before + area.value.slice(cursor);
    area.focus();
    area.setSelectionRange(before.length, before.length);
    document.getElementById("mention-suggestions").innerHTML = "";
  });
})();
