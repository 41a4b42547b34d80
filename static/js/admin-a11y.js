// Accessible names the Django admin leaves out (found by axe-core, issue 19). No inline
// scripts (CSP): loaded by templates/admin/base_site.html.
// * Form controls in tabular inlines are labelled only visually, by their column header:
//   each gets that header (and the row's object) as its name.
// * select2 autocomplete boxes (autocomplete_fields) have no name: they get their field's label.
(function () {
  "use strict";
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
  const named = (el) => el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ||
    (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));

  const nameInlines = () => {
    document.querySelectorAll(".tabular table").forEach((table) => {
      table.querySelectorAll("tbody tr.form-row").forEach((row) => {
        const what = text(row.querySelector("td.original p"));
        row.querySelectorAll("td[class*='field-'], td.delete").forEach((cell) => {
          const field = Array.from(cell.classList).find((c) => c.startsWith("field-"));
          const head = field ? text(table.querySelector("thead th.column-" + field.slice(6))) : "Delete";
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach((control) => {
            if (!named(control) && head) control.setAttribute("aria-label", what ? head + " (" + what + ")" : head);
          });
        });
      });
    });
  };

  const nameAutocompletes = () => {
    document.querySelectorAll(".select2-selection[role=combobox]").forEach((box) => {
      const container = box.closest(".select2");
      const select = container && container.previousElementSibling;
      if (!select || select.tagName !== "SELECT") return;
      const label = select.id && document.querySelector('label[for="' + CSS.escape(select.id) + '"]');
      const name = (select.getAttribute("aria-label") || text(label)).replace(/:$/, "");
      if (!name) return;
      // The box is labelled by its "rendered" textbox (select2), which shows only the value.
      const rendered = box.querySelector(".select2-selection__rendered[role=textbox]");
      if (rendered && !rendered.hasAttribute("aria-label")) rendered.setAttribute("aria-label", name);
      if (label) {
        if (!label.id) label.id = select.id + "-label";
        box.setAttribute("aria-labelledby", label.id + (rendered && rendered.id ? " " + rendered.id : ""));
      } else {
        box.setAttribute("aria-label", name);
      }
    });
  };

  const run = () => { nameInlines(); nameAutocompletes(); };
  window.addEventListener("load", run);
  // select2 builds its boxes when jQuery is ready (not always before "load"), and a row added
  // with "Add another" comes later still: name whatever is added to the page.
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(() => { pending = false; run(); });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
