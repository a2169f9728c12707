// chengguo pages: progressive enhancement only. Every page works without this script where a
// plain form can do the job.
"use strict";

/** The CSRF token of the session, for JSON requests to the API. */
function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.getAttribute("content") : "";
}

document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.classList.add("js");
});
