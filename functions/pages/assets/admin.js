// chengguo staff pages: progressive enhancement only. Without this script every action has its
// own page, the reopen evidence is sent with the form itself, and printing uses the browser's menu.
"use strict";

(function () {
  function token() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // Action buttons open their form in a modal dialog instead of a separate page.
  function setupDialogs() {
    if (typeof HTMLDialogElement !== "function") {
      return;
    }
    var opener = null;
    document.querySelectorAll("a[data-dialog]").forEach(function (link) {
      var dlg = document.getElementById(link.getAttribute("data-dialog"));
      if (!dlg || typeof dlg.showModal !== "function") {
        return;
      }
      link.setAttribute("aria-haspopup", "dialog");
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        opener = link;
        dlg.showModal();
        var first = dlg.querySelector("textarea, input:not([type=hidden]), select, button");
        if (first) {
          first.focus();
        }
      });
      dlg.addEventListener("close", function () {
        if (opener) {
          opener.focus();
        }
      });
      dlg.querySelectorAll("[data-close]").forEach(function (b) {
        b.addEventListener("click", function () {
          dlg.close();
        });
      });
    });
  }

  function typeOf(file) {
    if (file.type) {
      return file.type;
    }
    var name = file.name.toLowerCase();
    if (/\.pdf$/.test(name)) {
      return "application/pdf";
    }
    if (/\.jpe?g$/.test(name)) {
      return "image/jpeg";
    }
    if (/\.png$/.test(name)) {
      return "image/png";
    }
    return "application/octet-stream";
  }

  function jsonPost(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token() },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) {
          var msg = data && data.error ? data.error.message : "上传失败，请重试。";
          throw new Error(msg);
        }
        return data;
      });
    });
  }

  function put(upload, file, progress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", upload.url);
      Object.keys(upload.headers || {}).forEach(function (k) {
        var lower = k.toLowerCase();
        if (lower !== "content-length" && lower !== "host") {
          xhr.setRequestHeader(k, upload.headers[k]);
        }
      });
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) {
          progress.value = Math.round((ev.loaded / ev.total) * 100);
        }
      });
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve();
        } else {
          reject(new Error("文件上传失败（" + xhr.status + "），请重试。"));
        }
      };
      xhr.onerror = function () {
        reject(new Error("网络错误，文件上传失败，请重试。"));
      };
      xhr.send(file);
    });
  }

  // The reopen evidence goes straight to the file store (announce, PUT, confirm) with a progress
  // bar; the form then only carries the attachment's id.
  function setupEvidence() {
    document.querySelectorAll("input[data-evidence-upload]").forEach(function (input) {
      var form = input.form;
      var field = input.closest(".field");
      var progress = field.querySelector(".upload-progress");
      var status = field.querySelector(".upload-status");
      var hidden = form.querySelector('input[name="evidence_attachment_id"]');
      var submit = form.querySelector('button[type="submit"]');
      var url = input.getAttribute("data-evidence-upload");
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        if (!file) {
          return;
        }
        hidden.value = "";
        progress.hidden = false;
        progress.value = 0;
        status.textContent = "正在上传“" + file.name + "”……";
        status.className = "upload-status";
        submit.disabled = true;
        jsonPost(url, {
          category: "reopen_evidence",
          filename: file.name,
          content_type: typeOf(file),
          size: file.size,
        })
          .then(function (created) {
            return put(created.upload, file, progress).then(function () {
              return jsonPost(url + "/" + created.attachment.id + "/confirm", {});
            });
          })
          .then(function (att) {
            hidden.value = att.id;
            progress.value = 100;
            status.textContent = "已上传“" + file.name + "”。";
            status.className = "upload-status ok";
            // The bytes are stored: the form need not send them again.
            input.value = "";
          })
          .catch(function (err) {
            progress.hidden = true;
            status.textContent = err.message;
            status.className = "upload-status error";
          })
          .then(function () {
            submit.disabled = false;
          });
      });
    });
  }

  function setupPrint() {
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () {
        window.print();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    setupDialogs();
    setupEvidence();
    setupPrint();
  });
})();
