// The filter and search of index.html's claim table; other pages need no script.
(function () {
  "use strict";
  var table = document.getElementById("claims");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr.claim"));
  var area = document.getElementById("filter-area");
  var verdict = document.getElementById("filter-verdict");
  var kernel = document.getElementById("filter-kernel");
  var search = document.getElementById("filter-search");
  var shown = document.getElementById("shown");

  function verdictsOf(row) {
    var out = {};
    row.getAttribute("data-verdicts").split(" ").forEach(function (word) {
      var cut = word.lastIndexOf("=");
      out[word.slice(0, cut)] = word.slice(cut + 1);
    });
    return out;
  }

  function matches(row) {
    if (area.value && row.getAttribute("data-area") !== area.value) { return false; }
    var words = search.value.trim().toLowerCase();
    if (words && row.getAttribute("data-search").indexOf(words) < 0) { return false; }
    if (!verdict.value) { return true; }
    if (verdict.value === "differs") { return row.getAttribute("data-mark") === "differs"; }
    var verdicts = verdictsOf(row);
    if (kernel.value) { return verdicts[kernel.value] === verdict.value; }
    return Object.keys(verdicts).some(function (k) { return verdicts[k] === verdict.value; });
  }

  function apply() {
    var count = 0;
    rows.forEach(function (row) {
      var show = matches(row);
      row.hidden = !show;
      if (show) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length;
  }

  [area, verdict, kernel].forEach(function (el) { el.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  apply();
})();
