// 科技成果登记 public site: the objection form (posts JSON to the API) and the registry search
// (filters the shards listed in /registry/index.json). Both enhance pages that work without
// this script.
(function () {
  "use strict";

  function text(el, value) { el.textContent = value; }

  // ---- Objection form (异议) ------------------------------------------------------------
  var form = document.querySelector("form.objection-form");
  if (form) {
    form.hidden = false;
    var status = form.querySelector(".form-status");
    var fields = ["name", "unit", "phone", "email", "content"];

    var clearErrors = function () {
      fields.forEach(function (f) {
        var input = form.elements[f];
        var err = document.getElementById("ob-" + f + "-error");
        if (input) { input.removeAttribute("aria-invalid"); }
        if (err) { text(err, ""); err.hidden = true; }
      });
      status.className = "form-status";
      text(status, "");
    };

    var showErrors = function (body) {
      var error = (body && body.error) || {};
      var general = [error.message || "提交失败，请稍后重试。"];
      (error.details || []).forEach(function (d) {
        var err = document.getElementById("ob-" + d.field + "-error");
        var input = form.elements[d.field];
        if (err && input && fields.indexOf(d.field) >= 0) {
          text(err, d.message);
          err.hidden = false;
          input.setAttribute("aria-invalid", "true");
        } else if (d.message) {
          general.push(d.message);
        }
      });
      status.className = "form-status error";
      text(status, general.join(" "));
      var first = form.querySelector("[aria-invalid=\"true\"]");
      if (first) { first.focus(); }
    };

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var payload = { registration_id: form.elements.registration_id.value };
      fields.forEach(function (f) { payload[f] = form.elements[f].value; });
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      text(status, "正在提交…");
      fetch(form.getAttribute("data-endpoint"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(payload)
      }).then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.status === 201) {
            form.reset();
            status.className = "form-status ok";
            text(status, (body && body.message) || "您的异议已提交。");
          } else {
            showErrors(body);
          }
        });
      }).catch(function () {
        status.className = "form-status error";
        text(status, "网络连接失败，请稍后重试，或通过上方的联系方式提出异议。");
      }).then(function () { button.disabled = false; });
    });
  }

  // ---- Registry search (成果库检索) ------------------------------------------------------
  var search = document.getElementById("registry-search");
  if (search) {
    search.hidden = false;
    var out = document.getElementById("search-results");
    var manifest = null;
    var shards = {};
    var LIMIT = 100;

    var getJson = function (url) {
      return fetch(url).then(function (r) {
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      });
    };

    // The index is a manifest of shards (newest first, one year each); a search for one year
    // loads only that year's shards. Items come back newest first.
    var load = function (year) {
      var first = manifest ? Promise.resolve(manifest) : getJson(search.getAttribute("data-index")).then(function (doc) {
        manifest = doc;
        return doc;
      });
      return first.then(function (doc) {
        var wanted = doc.shards.filter(function (s) { return !year || String(s.y) === year; });
        return Promise.all(wanted.map(function (s) {
          if (shards[s.p]) { return shards[s.p]; }
          shards[s.p] = getJson(s.p).catch(function (e) { delete shards[s.p]; throw e; });
          return shards[s.p];
        })).then(function (parts) {
          var items = [];
          parts.forEach(function (p) { items = items.concat(p.items); });
          return { kinds: doc.kinds, items: items };
        });
      });
    };

    var norm = function (s) { return String(s || "").toLowerCase().trim(); };

    var render = function (doc, hits) {
      out.hidden = false;
      out.innerHTML = "";
      var h = document.createElement("h3");
      text(h, "检索结果：共 " + hits.length + " 项" + (hits.length > LIMIT ? "，显示前 " + LIMIT + " 项" : ""));
      out.appendChild(h);
      if (!hits.length) {
        var p = document.createElement("p");
        text(p, "没有符合条件的成果，请调整检索条件。");
        out.appendChild(p);
        return;
      }
      var ul = document.createElement("ul");
      ul.className = "cards";
      hits.slice(0, LIMIT).forEach(function (it) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = it.p;
        text(a, it.t);
        var meta = document.createElement("span");
        meta.className = "meta";
        text(meta, "成果登记号 " + it.n + " · " + (doc.kinds[it.k] || "") + " · " + (it.u[0] || "") + " · " + it.d);
        li.appendChild(a);
        li.appendChild(meta);
        ul.appendChild(li);
      });
      out.appendChild(ul);
    };

    var run = function () {
      var rawQ = search.elements.q.value.trim();
      var rawUnit = search.elements.unit.value.trim();
      var q = norm(rawQ);
      var kind = search.elements.kind.value;
      var year = search.elements.year.value;
      var unit = norm(rawUnit);
      var params = new URLSearchParams();
      if (rawQ) { params.set("q", rawQ); }
      if (kind) { params.set("kind", kind); }
      if (year) { params.set("year", year); }
      if (rawUnit) { params.set("unit", rawUnit); }
      var qs = params.toString();
      history.replaceState(null, "", qs ? "?" + qs : location.pathname);
      if (!qs) { out.hidden = true; out.innerHTML = ""; return; }
      out.hidden = false;
      text(out, "正在检索…");
      load(year).then(function (doc) {
        var hits = doc.items.filter(function (it) {
          if (kind && it.k !== kind) { return false; }
          if (year && String(it.y) !== year) { return false; }
          if (unit && norm(it.u.join(" ")).indexOf(unit) < 0) { return false; }
          if (q && norm(it.t + " " + it.n + " " + it.w.join(" ")).indexOf(q) < 0) { return false; }
          return true;
        });
        render(doc, hits);
      }).catch(function () {
        text(out, "检索数据加载失败，请稍后重试，或按成果类型、登记年度浏览。");
      });
    };

    search.addEventListener("submit", function (event) { event.preventDefault(); run(); });
    search.addEventListener("reset", function () {
      setTimeout(function () { run(); }, 0);
    });
    var given = new URLSearchParams(location.search);
    ["q", "kind", "year", "unit"].forEach(function (k) {
      if (given.get(k)) { search.elements[k].value = given.get(k); }
    });
    if (given.toString()) { run(); }
  }
})();
