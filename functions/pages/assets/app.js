// chengguo pages: progressive enhancement only. Every page works without this script where a
// plain form can do the job; uploads need it (the bytes go straight to a signed URL).
"use strict";

/** The CSRF token of the session, for JSON requests to the API. */
function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.getAttribute("content") : "";
}

/** Sends JSON to the API with the session's CSRF token; resolves to {status, body}. */
function apiJson(method, url, body, keepalive) {
  return fetch(url, {
    method: method,
    credentials: "same-origin",
    keepalive: !!keepalive,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then(function (resp) {
    return resp.text().then(function (text) {
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
      return { status: resp.status, body: parsed };
    });
  });
}

/** The Chinese message of an API error answer. */
function apiMessage(r, fallback) {
  if (r && r.body && r.body.error) {
    const d = r.body.error.details;
    if (d && d.length && d[0].message && d[0].message !== r.body.error.message) {
      return r.body.error.message + " " + d[0].message;
    }
    return r.body.error.message || fallback;
  }
  return fallback;
}

// ---------------------------------------------------------------------------------------------
// The registration form: the same reading of the form as the server's (field path → JSON), sent
// as a PATCH when the page is hidden or left with unsaved changes.

/** Splits "a.b[2].c" into ["a", "b", 2, "c"]. */
function parsePath(path) {
  const out = [];
  const parts = path.split(".");
  for (let i = 0; i < parts.length; i++) {
    const m = /^([^\[\]]+)((?:\[\d+\])*)$/.exec(parts[i]);
    if (!m) return null;
    out.push(m[1]);
    const idx = m[2].match(/\d+/g);
    if (idx) idx.forEach(function (n) { out.push(parseInt(n, 10)); });
  }
  return out;
}

function insertAt(root, path, value) {
  let cur = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    const nextIsIndex = typeof path[i + 1] === "number";
    if (cur[key] === undefined || cur[key] === null) cur[key] = nextIsIndex ? [] : {};
    cur = cur[key];
  }
  cur[path[path.length - 1]] = value;
}

/** Removes empty rows and empty objects; true when v itself is empty. */
function prune(v) {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) {
    for (let i = v.length - 1; i >= 0; i--) {
      if (prune(v[i])) v.splice(i, 1);
    }
    return false;
  }
  if (typeof v === "object") {
    Object.keys(v).forEach(function (k) { if (prune(v[k])) delete v[k]; });
    return Object.keys(v).length === 0;
  }
  return false;
}

/** The PATCH of the form's keys, or null when a number is not valid (the server says why). */
function readForm(form) {
  const root = {};
  const fields = form.querySelectorAll("[data-f]");
  for (let i = 0; i < fields.length; i++) {
    const el = fields[i];
    if (el.type === "radio" && !el.checked) continue;
    const t = el.getAttribute("data-f");
    let raw;
    if (el.type === "checkbox") {
      if (!el.checked) continue;
      raw = "true";
    } else {
      raw = (el.value || "").trim();
    }
    if (raw === "") continue;
    let value;
    if (t === "bool") value = true;
    else if (t === "int") {
      if (!/^\d{1,9}$/.test(raw)) return null;
      value = parseInt(raw, 10);
    } else if (t === "float") {
      if (!/^[0-9+\-.eE]+$/.test(raw) || !isFinite(Number(raw))) return null;
      value = Number(raw);
    } else if (t === "lines") {
      value = raw.split(/\r?\n/).map(function (l) { return l.trim(); }).filter(function (l) { return l !== ""; });
    } else value = raw.replace(/\r\n/g, "\n");
    const path = parsePath(el.name);
    if (path) insertAt(root, path, value);
  }
  prune(root);
  const patch = {};
  (form.getAttribute("data-keys") || "").split(",").forEach(function (k) {
    if (!k) return;
    let v = root[k] === undefined ? null : root[k];
    if (k === "contract_has_lists" && v === null) v = false;
    patch[k] = v;
  });
  return patch;
}

function setupAutosave(form) {
  const url = form.getAttribute("data-autosave");
  const version = form.querySelector("#version");
  const status = document.getElementById("autosave-status");
  let dirty = false;
  let submitting = false;
  let saving = false;

  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  // A plain submit saves by itself; the autosave must not race it with the same version.
  form.addEventListener("submit", function () { submitting = true; });

  function say(text) { if (status) status.textContent = text; }

  function save(leaving) {
    if (!dirty || submitting || saving || !url || !version) return;
    const fields = readForm(form);
    if (!fields) {
      say("有数字填写不正确，未自动保存，请点击“保存草稿”查看提示。");
      return;
    }
    saving = true;
    dirty = false;
    const body = { version: parseInt(version.value, 10), fields: fields };
    apiJson("PATCH", url, body, leaving).then(function (r) {
      saving = false;
      if (r.status === 200 && r.body && r.body.version !== undefined) {
        version.value = String(r.body.version);
        const now = new Date();
        say("已自动保存（" + String(now.getHours()).padStart(2, "0") + ":" +
          String(now.getMinutes()).padStart(2, "0") + "）");
      } else {
        dirty = true;
        say("自动保存未成功：" + apiMessage(r, "请点击“保存草稿”。"));
      }
    }).catch(function () {
      saving = false;
      dirty = true;
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") save(true);
  });
  window.addEventListener("pagehide", function () { save(true); });
  // Back from the page cache with an old version: show what is stored now.
  window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });
}

// ---------------------------------------------------------------------------------------------
// Uploads: announce → PUT the bytes to the signed URL (with a progress bar) → confirm.

const TYPES = { pdf: "application/pdf", jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png" };
const MAX = { "application/pdf": 20 * 1024 * 1024, "image/jpeg": 10 * 1024 * 1024, "image/png": 10 * 1024 * 1024 };

function contentTypeOf(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return TYPES[ext] || "";
}

function putWithProgress(upload, file, contentType, progress) {
  return new Promise(function (resolve, reject) {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    const headers = upload.headers || {};
    Object.keys(headers).forEach(function (k) {
      // The browser sets Content-Length itself and refuses it from scripts.
      if (k.toLowerCase() === "content-length") return;
      xhr.setRequestHeader(k, headers[k]);
    });
    if (!headers["content-type"] && !headers["Content-Type"]) xhr.setRequestHeader("Content-Type", contentType);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        const pct = Math.round((e.loaded / e.total) * 100);
        progress.value = pct;
        progress.textContent = pct + "%";
      }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let msg = "上传失败（" + xhr.status + "）。";
        try { msg = JSON.parse(xhr.responseText).error.message || msg; } catch (e) { /* not JSON (S3) */ }
        reject(new Error(msg));
      }
    });
    xhr.addEventListener("error", function () { reject(new Error("网络错误，上传未完成，请重试。")); });
    xhr.addEventListener("abort", function () { reject(new Error("上传已取消。")); });
    xhr.send(file);
  });
}

function setupUpload(form) {
  const input = form.querySelector('input[type="file"]');
  const progress = form.querySelector("progress");
  const status = form.querySelector(".upload-status");
  const button = form.querySelector('button[type="submit"]');
  const api = form.getAttribute("data-api");
  const category = form.getAttribute("data-category");
  const replace = form.getAttribute("data-replace");

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("error", !!bad);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const file = input.files && input.files[0];
    if (!file) { say("请先选择文件。", true); input.focus(); return; }
    const ct = contentTypeOf(file);
    if (!ct) { say("只接受 PDF、JPG 或 PNG 文件。", true); return; }
    if (file.size === 0) { say("文件是空的。", true); return; }
    if (file.size > MAX[ct]) {
      say(ct === "application/pdf" ? "PDF 文件不能超过 20 MB。" : "图片不能超过 10 MB。", true);
      return;
    }
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    say("正在上传 " + file.name + " …");
    let attachment = null;
    apiJson("POST", api, { category: category, filename: file.name, content_type: ct, size: file.size })
      .then(function (r) {
        if (r.status !== 201) throw new Error(apiMessage(r, "无法开始上传。"));
        attachment = r.body.attachment;
        return putWithProgress(r.body.upload, file, ct, progress);
      })
      .then(function () {
        say("正在校验文件…");
        return apiJson("POST", api + "/" + attachment.id + "/confirm", {});
      })
      .then(function (r) {
        if (r.status !== 200) throw new Error(apiMessage(r, "文件校验未通过。"));
        if (replace) {
          return apiJson("DELETE", api + "/" + replace).then(function (d) {
            if (d.status !== 204) throw new Error(apiMessage(d, "新文件已上传，但旧文件未能删除，请手动删除。"));
          });
        }
      })
      .then(function () {
        progress.value = 100;
        say("上传完成：" + file.name);
        window.location.reload();
      })
      .catch(function (err) {
        button.disabled = false;
        progress.hidden = true;
        say(err.message || "上传失败，请重试。", true);
      });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  document.documentElement.classList.add("js");
  const form = document.getElementById("reg-form");
  if (form) setupAutosave(form);
  document.querySelectorAll("form[data-upload]").forEach(setupUpload);
});
