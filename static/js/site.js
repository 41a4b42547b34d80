// Small progressive enhancements; the site works without JavaScript. No inline scripts or
// event-handler attributes anywhere (Content-Security-Policy): every listener is here.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    const nav = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  }
  // "Go back" links: the href is the fallback without JavaScript (or without history).
  const back = event.target.closest("[data-history-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
  // The receipt page's "Print" button.
  if (event.target.closest("[data-print]")) {
    window.print();
  }
  const confirmEl = event.target.closest("[data-confirm]");
  if (confirmEl && !window.confirm(confirmEl.dataset.confirm)) {
    event.preventDefault();
  }
});

// An image that cannot be loaded shows its `data-fallback` (the trip placeholder) instead
// of the browser's broken-image icon. The server already sends the placeholder for files it
// knows are missing; this covers the rest (a cached page, a file removed since, a network error).
(function () {
  "use strict";
  const useFallback = (img) => {
    const fallback = img.dataset.fallback;
    if (fallback && img.getAttribute("src") !== fallback) img.src = fallback;
  };
  // "error" does not bubble: listen in the capture phase, for images added by htmx too.
  document.addEventListener("error", (event) => {
    if (event.target instanceof HTMLImageElement && event.target.dataset.fallback) useFallback(event.target);
  }, true);
  // Images that failed before this deferred script ran.
  document.querySelectorAll("img[data-fallback]").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) useFallback(img);
  });
})();

// htmx swaps only 2xx answers by default, so a refused request looked like nothing
// happened. The one rule of the site: a 4xx answer (400 bad input, 403, 404, 409 stale,
// 413, 422, 429 ...) is swapped like any other; the server sends the form or region again
// with its errors. A draft is never lost: when the answer is not a form but its target
// holds one (an error message after a permission or session change), the message goes into
// the form's error slot and every field keeps what the person typed.
(function () {
  "use strict";
  const formOf = (target) => (target.matches("form") ? target : target.querySelector("form"));
  const errorSlot = (form) => {
    let slot = form.querySelector("[data-form-errors]");
    if (!slot) {
      slot = document.createElement("div");
      slot.setAttribute("data-form-errors", "");
      form.prepend(slot);
    }
    return slot;
  };
  const showInForm = (form, html) => {
    const slot = errorSlot(form);
    slot.innerHTML = html;
    if (window.htmx) window.htmx.process(slot);
  };
  const alertHtml = (text) => {
    const box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    return box.outerHTML;
  };
  const path = (url) => new URL(url, window.location.href).pathname;

  document.addEventListener("htmx:beforeSwap", (event) => {
    const detail = event.detail;
    const status = detail.xhr.status;
    const form = detail.target ? formOf(detail.target) : null;
    // A request that was redirected to the sign-in page (the session ended): keep the form.
    const responsePath = detail.xhr.responseURL ? path(detail.xhr.responseURL) : "";
    const redirected = responsePath && detail.pathInfo && responsePath !== path(detail.pathInfo.requestPath);
    if (form && redirected && responsePath.startsWith("/accounts/login/")) {
      detail.shouldSwap = false;
      showInForm(form, alertHtml("You were signed out, so this was not saved. Sign in again in another tab, then send it again: your text is still here."));
      return;
    }
    if (status < 400 || status > 499) return;
    detail.shouldSwap = true;
    detail.isError = false;
    if (form && !/<form[\s>]/i.test(detail.serverResponse)) {
      detail.shouldSwap = false;
      showInForm(form, detail.serverResponse);
    }
  });

  // Server errors (5xx) and lost connections are not swapped; say so next to the form.
  const failed = (event) => {
    const elt = event.detail.elt;
    const form = elt && (elt.closest("form") || (event.detail.target && formOf(event.detail.target)));
    if (form) showInForm(form, alertHtml("That did not work: the server could not handle it just now. Nothing was lost; please try again in a moment."));
  };
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();
