// Tasks app enhancements; every action also works through plain buttons and forms.
(function () {
  "use strict";

  // Drag a card onto any other column: one htmx request per move (the same endpoint and
  // values as the card's "Move to…" menu). A column the workflow refuses is not a drop
  // target; dropping there anyway says why (the reason is on the card, in its menu).
  let dragged = null;
  const say = (text, level) => {
    const flash = document.getElementById("board-flash");
    const live = document.getElementById("board-live");
    if (flash) {
      const box = document.createElement("div");
      box.className = "flash flash-" + level;
      box.textContent = text;
      flash.replaceChildren(box);
    }
    if (live) live.textContent = text;
  };
  const refusal = (card, status) => {
    const why = card.querySelector('[data-why="' + status + '"]');
    return why ? why.textContent.trim() : "";
  };
  const columnAt = (event) => event.target.closest && event.target.closest(".column[data-status]");
  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".task-card[draggable=true]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.setData("text/plain", card.id);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragend", () => {
    dragged = null;
    document.querySelectorAll(".column.drop-target, .column.drop-refused").forEach((c) => c.classList.remove("drop-target", "drop-refused"));
  });
  document.addEventListener("dragover", (event) => {
    const column = columnAt(event);
    if (!column) return;
    event.preventDefault();  // every column takes the drop, so a refused one can say why
    const refused = dragged && refusal(dragged, column.dataset.status);
    column.classList.toggle("drop-refused", Boolean(refused));
    column.classList.toggle("drop-target", !refused);
    // (dropEffect stays "move": with "none" the browser would not fire the drop that says why.)
  });
  document.addEventListener("dragleave", (event) => {
    const column = columnAt(event);
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target", "drop-refused");
  });
  document.addEventListener("drop", (event) => {
    const column = columnAt(event);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target", "drop-refused");
    const card = document.getElementById(event.dataTransfer.getData("text/plain"));
    if (!card || !card.dataset.moveUrl || !window.htmx) return;
    const status = column.dataset.status;
    if (card.closest(".column") === column) return;
    const why = refusal(card, status);
    if (why) {
      say(why, "error");
      card.focus();
      return;
    }
    window.htmx.ajax("POST", card.dataset.moveUrl, {
      source: card, target: "#board-flash", swap: "innerHTML", values: { status: status, version: card.dataset.version },
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

  // Quick add: the column came back with the new card and an empty form; the cursor goes back
  // into it, so the next title can be typed right away (#board-live announced the add).
  document.addEventListener("tf-quick-added", (event) => {
    const input = event.detail && document.getElementById(event.detail.input);
    if (input) input.focus();
  });

  // A live refresh of a column (static/js/live.js swaps #col-<status> when someone else
  // changes the board) must not lose a title being typed in its quick add, nor its focus.
  let typing = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    typing = null;
    if (!target || !target.matches || !target.matches(".column[data-status]")) return;
    const input = target.querySelector(".quick-add input[name=title]");
    if (input && (input.value || document.activeElement === input)) {
      typing = { id: input.id, value: input.value, focused: document.activeElement === input,
        start: input.selectionStart, end: input.selectionEnd };
    }
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!typing) return;
    const input = document.getElementById(typing.id);
    if (input && !input.value) {
      input.value = typing.value;
      if (typing.focused) {
        input.focus();
        input.setSelectionRange(typing.start, typing.end);
      }
    }
    typing = null;
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
