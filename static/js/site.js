// Small progressive enhancements; the site works without JavaScript. No inline scripts or
// event-handler attributes anywhere (Content-Security-Policy): every listener is here.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    const nav = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
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
