#!/usr/bin/env bash
# Opens a report.html from disk in headless Chromium with the network cut off, fails on any
# console error (a script error, or anything the page tried to fetch), checks that clicking
# a column header of the agents table sorts it, and saves a screenshot to look at.
#
# Usage: scripts/check_report_in_browser.sh OUT/report.html [SCREENSHOT.png]
# Needs Chromium (Debian: apt-get install chromium, about 400 MB), so it is not part of
# scripts/test.sh; run it after changing src/report.rs.
set -euo pipefail

report="$(realpath "${1:?usage: $0 REPORT.html [SCREENSHOT.png]}")"
screenshot="$(realpath -m "${2:-${report%.html}.png}")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "no Chromium found; hint: apt-get install chromium" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --host-resolver-rules resolves every name to nothing and the proxy is a closed port: any
# fetch fails and shows as a console error instead of reaching the network.
run_browser() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --disable-extensions --host-resolver-rules="MAP * ~NOTFOUND" \
    --proxy-server="http://127.0.0.1:9" --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 "$@"
}

console_errors() {
  grep -E "Uncaught|CONSOLE|ERR_|Refused to" "$1" | grep -v -E "dbus|Fontconfig" || true
}

failed=0

# 0. Self-contained: nothing that points outside the file (links within the page are fine).
external="$(grep -o -E "(src|href|action|poster)=[\"']?[^\"'#> ][^\"'> ]*|url\([^)#][^)]*\)|@import[^;]*" "$report" | head -5 || true)"
if [ -n "$external" ]; then
  echo "the page refers to files or addresses outside itself:" >&2
  echo "$external" >&2
  failed=1
fi

# 1. The page as it is: no console message at all, and a screenshot.
run_browser --window-size=1366,3400 --screenshot="$screenshot" "file://$report" \
  >"$work/screenshot.out" 2>"$work/screenshot.log" || true
if [ ! -s "$screenshot" ]; then
  echo "no screenshot was written; Chromium said:" >&2
  tail -20 "$work/screenshot.log" >&2
  exit 1
fi
errors="$(console_errors "$work/screenshot.log")"
if [ -n "$errors" ]; then
  echo "console errors while loading $report:" >&2
  echo "$errors" >&2
  failed=1
fi

# 2. Sorting: a copy of the page clicks "Mean score" twice and records whether the rows came
# out descending, then ascending. The report itself has no test hooks.
probe="$work/report-probe.html"
cat "$report" | sed 's#</body></html>##' >"$probe"
cat >>"$probe" <<'EOF'
<script>
(function () {
  var result = "sort-check:fail";
  try {
    var table = document.getElementById("agents-table");
    if (!table) { result = "sort-check:no-agents-table"; }
    else {
      var headers = table.tHead.rows[0].cells, column = -1;
      for (var i = 0; i < headers.length; i++) { if (headers[i].textContent.indexOf("Mean score") === 0) { column = i; } }
      var values = function () {
        return Array.prototype.map.call(table.tBodies[0].rows, function (row) {
          var value = parseFloat(row.cells[column].getAttribute("data-value"));
          return isNaN(value) ? null : value;
        }).filter(function (value) { return value !== null; });
      };
      var ordered = function (list, direction) {
        for (var k = 1; k < list.length; k++) { if ((list[k] - list[k - 1]) * direction < 0) { return false; } }
        return true;
      };
      headers[column].click();
      var first = values();
      headers[column].click();
      var second = values();
      result = (ordered(first, -1) && ordered(second, 1)) ? "sort-check:ok" : "sort-check:wrong-order " + first + " / " + second;
    }
  } catch (error) { result = "sort-check:error " + error; }
  document.body.setAttribute("data-sort-check", result);
  // Everything the page fetched (failed fetches included): must be nothing.
  window.addEventListener("load", function () {
    var fetched = performance.getEntriesByType("resource").map(function (entry) { return entry.name; });
    document.body.setAttribute("data-fetched", fetched.length ? fetched.join(" ") : "nothing");
  });
})();
</script></body></html>
EOF
run_browser --dump-dom "file://$probe" >"$work/dom.html" 2>"$work/dom.log" || true
sort_result="$(grep -o 'data-sort-check="[^"]*"' "$work/dom.html" || echo 'data-sort-check="no result"')"
errors="$(console_errors "$work/dom.log")"
if [ -n "$errors" ]; then
  echo "console errors while sorting:" >&2
  echo "$errors" >&2
  failed=1
fi
fetched="$(grep -o 'data-fetched="[^"]*"' "$work/dom.html" || echo 'data-fetched="no result"')"
if [ "$fetched" != 'data-fetched="nothing"' ]; then
  echo "the page fetched resources (it must be self-contained): $fetched" >&2
  failed=1
fi
case "$sort_result" in
  *sort-check:ok*) ;;
  # A page without the agents table (an audit sheet.html): nothing to sort.
  *sort-check:no-agents-table*) grep -q 'id="agents-table"' "$report" || sort_result="" ;;
esac
case "$sort_result" in
  ""|*sort-check:ok*) ;;
  *) echo "sorting the agents table: $sort_result" >&2; failed=1 ;;
esac

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "ok: self-contained, no console errors${sort_result:+, agents table sorts}; screenshot $screenshot"
