// The showcase's own script, served from /static like htmx (the CSP allows scripts of this
// site only, and no inline event handlers: this file listens for htmx's events instead).
"use strict";

// A form marked data-reset empties itself once the server took what it sent (a 422 answers
// with the form again, its values kept: see the htmx-config in templates/base.html).
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  const accepted = event.detail.successful && event.detail.xhr.status < 300;
  if (accepted && form instanceof HTMLFormElement && form.hasAttribute("data-reset")) {
    form.reset();
    form.querySelector("input, textarea")?.focus();
  }
});
