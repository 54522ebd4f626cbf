//! `report.html`: one self-contained page for managers, written by every run (and rescore),
//! by `callqa report` for a date or a range of dates, and after each `callqa audit import`.
//!
//! Contents: team summary; score per call date; agents (sortable, with each agent's trend
//! against the 30 days before); score distribution; failures by category and findings by
//! rule, with the precision of each rule measured by auditors; the worst calls with their
//! evidence and what was said; inputs that could not be processed.
//!
//! The numbers the `agents` table also holds are the same numbers here: a call is a call
//! that was processed (scored or not scorable), as in `agents.calls`; inputs that could not
//! be processed are counted apart, per agent and for the team. A failure is a rule failed on
//! a scored call (the findings marked `counted`, a rule once per call), as in
//! `agents.failures_<category>`. Times are shown in the dataset's time zone, in which call
//! dates are counted.
//!
//! Promises:
//! - No network access: no external scripts, fonts, styles or images; charts are inline SVG.
//!   The only script is a few lines that sort the agents table on a header click, and the
//!   table is already sorted (worst first) without it, so printing or a browser without
//!   scripts loses nothing.
//! - Every piece of text from the data (transcripts, evidence, ids, messages) goes through
//!   [`escape_html`], so a transcript holding `<script>` shows as text.
//! - Text in the report is what the dataset holds: redacted, unless the run was told to keep
//!   personal data.
//! - Deterministic: the same dataset and period give the same bytes (no "generated at").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;

use crate::dataset::{
    AuditRow, CATEGORIES, CallRow, DatasetError, FailureRow, FindingRow, SegmentRow, Tables,
    read_audits, read_calls, read_failures, read_findings, read_segments,
};
use crate::store::{Store, StoreError, write_atomically};

/// Days before the latest call date that an agent's trend compares against.
pub const TREND_BASELINE_DAYS: u64 = 30;
/// Calls listed with their evidence under "Worst calls".
const N_WORST_CALLS: usize = 10;
/// A finding longer than this is about the whole call (a missing greeting over the first
/// utterances …): its row does not repeat every utterance it spans.
const MAX_QUOTED_SPAN_MS: u64 = 10_000;

/// The call dates a report covers, both ends included; `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Period {
    /// Every date in the dataset.
    pub const ALL: Period = Period {
        from: None,
        to: None,
    };

    pub fn day(date: NaiveDate) -> Period {
        Period {
            from: Some(date),
            to: Some(date),
        }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.to.is_none_or(|to| date <= to)
    }

    /// Whether the date is in the period or in the trend baseline before it.
    fn with_baseline(&self, date: NaiveDate) -> bool {
        let baseline_start = self
            .from
            .and_then(|from| from.checked_sub_days(Days::new(TREND_BASELINE_DAYS)));
        baseline_start.is_none_or(|start| date >= start) && self.to.is_none_or(|to| date <= to)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read the dataset: {0}")]
    Dataset(#[from] DatasetError),
    #[error("cannot write the report: {0}")]
    Store(#[from] StoreError),
}

/// How the dataset was analysed, as far as the report has to say it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportSettings {
    /// The site's time zone, in which call dates are local dates: the report shows times in it.
    pub timezone: Tz,
    /// The score below which the run flagged calls (`--flag-below`). `None` when the caller
    /// does not know it: the report then states the default if the calls' flags agree with it,
    /// else the range the flags put it in.
    pub flag_threshold: Option<f64>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            timezone: Tz::UTC,
            flag_threshold: None,
        }
    }
}

impl ReportSettings {
    /// The settings the dataset in `out` remembers: its time zone (`OUT/.callqa/timezone`,
    /// UTC when none was given, as analysis counts dates) and its flag threshold
    /// (`OUT/.callqa/flag_below`, written by every run and rescore).
    pub fn of_dataset(out: &Path) -> ReportSettings {
        ReportSettings {
            timezone: Store::remembered_timezone(out)
                .and_then(|name| name.parse::<Tz>().ok())
                .unwrap_or(Tz::UTC),
            flag_threshold: Store::remembered_flag_threshold(out),
        }
    }
}

/// Reads the dataset in `out` (every shard) and writes the report of `period` to `path`, with
/// the settings the dataset remembers ([`ReportSettings::of_dataset`]).
pub fn write_report(out: &Path, period: Period, path: &Path) -> Result<(), ReportError> {
    write_report_with(out, period, path, &ReportSettings::of_dataset(out))
}

/// Reads the dataset in `out` (every shard) and writes the report of `period` to `path`.
///
/// Reads calls of the period and the [`TREND_BASELINE_DAYS`] before it (they give the
/// trend), findings and failures of the period, every audit verdict, and segments only of the
/// dates of the worst calls.
pub fn write_report_with(
    out: &Path,
    period: Period,
    path: &Path,
    settings: &ReportSettings,
) -> Result<(), ReportError> {
    let calls = read_calls(out, &|date| period.with_baseline(date))?;
    let worst_ids: BTreeSet<&str> = worst_calls(&calls, period)
        .iter()
        .map(|call| call.call_id.as_str())
        .collect();
    let worst_dates: BTreeSet<NaiveDate> = calls
        .iter()
        .filter(|call| worst_ids.contains(call.call_id.as_str()))
        .map(|call| call.call_date)
        .collect();
    let segments = read_segments(out, &|date| worst_dates.contains(&date))?
        .into_iter()
        .filter(|segment| worst_ids.contains(segment.call_id.as_str()))
        .collect();
    let tables = Tables {
        findings: read_findings(out, &|date| period.contains(date))?,
        failures: read_failures(out, &|date| period.contains(date))?,
        segments,
        agents: Vec::new(),
        calls,
    };
    let audits = read_audits(out)?;
    let html = render(&tables, &audits, period, settings);
    write_atomically(path, html.as_bytes(), false)?;
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

fn format_score(score: Option<f64>) -> String {
    score.map_or_else(|| "–".to_string(), |score| format!("{score:.1}"))
}

fn format_percent(share: Option<f64>) -> String {
    share.map_or_else(
        || "–".to_string(),
        |share| format!("{:.0} %", share * 100.0),
    )
}

/// Call time as `m:ss.s`.
pub fn format_time(ms: u64) -> String {
    format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}

fn format_span(start_ms: Option<u64>, end_ms: Option<u64>) -> String {
    match (start_ms, end_ms) {
        (Some(start), Some(end)) => format!("{}–{}", format_time(start), format_time(end)),
        (Some(start), None) => format_time(start),
        (None, Some(end)) => format!("–{}", format_time(end)),
        (None, None) => "whole call".to_string(),
    }
}

/// A sortable cell value: numbers as they are, missing as empty (sorted last).
fn sort_value(value: Option<f64>) -> String {
    value.map_or_else(String::new, |value| format!("{value:.2}"))
}

const STYLE: &str = "\
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--accent:#4f6bed;--bad:#b42318;--good:#1a7f37}\
*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:76rem;padding:1.5rem 1.25rem 3rem;color:var(--ink);background:#fff}\
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;margin:2.2rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.3rem}\
h3{font-size:1rem;margin:1.4rem 0 .4rem}\
nav{margin:.8rem 0 0;font-size:.9rem}nav a{margin-right:1rem;color:var(--accent);text-decoration:none}\
.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:.88rem}\
th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:var(--soft);font-weight:600;white-space:nowrap}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.time{white-space:nowrap;font-variant-numeric:tabular-nums}\
td.evidence{max-width:32rem;overflow-wrap:anywhere}\
th[data-type]{cursor:pointer}th[data-type]::after{content:' \\2195';color:#8c959f;font-weight:400}\
th[aria-sort=ascending]::after{content:' \\2191'}th[aria-sort=descending]::after{content:' \\2193'}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.8rem}\
.card{border:1px solid var(--line);border-radius:6px;padding:.6rem .9rem}\
.card b{display:block;font-size:1.55rem;font-variant-numeric:tabular-nums}.card small{color:var(--muted)}\
.flag{color:var(--bad);font-weight:600}.up{color:var(--good)}.down{color:var(--bad)}.muted{color:var(--muted)}\
.badge{display:inline-block;border-radius:3px;padding:0 .35rem;font-size:.78rem;font-weight:600;background:#ffebe9;color:var(--bad)}\
.said{margin:0;padding:0;list-style:none}.said li{margin:.1rem 0}\
.who{color:var(--muted);font-size:.8rem;white-space:nowrap}\
.call{border:1px solid var(--line);border-radius:6px;padding:.2rem .9rem .8rem;margin:1rem 0}\
details{margin-top:.5rem}summary{cursor:pointer;color:var(--accent)}\
svg{display:block;max-width:100%;height:auto}svg text{font-family:inherit;fill:var(--ink)}\
@media print{body{font-size:10pt;max-width:none;padding:0}nav,.screen,details.transcript{display:none}\
.scroll{overflow:visible}table{font-size:8.5pt}th{white-space:normal}td.evidence{max-width:none;width:40%}\
h2,h3{break-after:avoid}tr,.card{break-inside:avoid}.call{break-inside:auto;border:0;padding:0}\
th[data-type]::after{content:none}details.print-open::details-content{display:block;content-visibility:visible}\
a{color:inherit;text-decoration:none}}\
@page{size:A4;margin:14mm}";

/// Sorts `table.sortable` on a click (or Enter) on a header with `data-type`. Cells sort by
/// their `data-value` when they have one; empty values go last either way.
const SORT_SCRIPT: &str = "(function(){\
function key(row,column,numeric){var cell=row.cells[column];var raw=cell.getAttribute('data-value');if(raw===null){raw=cell.textContent;}\
if(!numeric){return raw.toLowerCase();}if(raw===''){return null;}var value=parseFloat(raw);return isNaN(value)?null:value;}\
function sortBy(table,header,column){var numeric=header.getAttribute('data-type')==='number';\
var ascending=header.getAttribute('aria-sort')!=='ascending';var body=table.tBodies[0];\
var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var x=key(a,column,numeric),y=key(b,column,numeric);\
if(x===y){return 0;}if(x===null){return 1;}if(y===null){return -1;}return (x<y?-1:1)*(ascending?1:-1);});\
Array.prototype.forEach.call(header.parentNode.cells,function(other){other.removeAttribute('aria-sort');});\
header.setAttribute('aria-sort',ascending?'ascending':'descending');rows.forEach(function(row){body.appendChild(row);});}\
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(table){\
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(header,column){if(!header.hasAttribute('data-type')){return;}\
header.tabIndex=0;header.addEventListener('click',function(){sortBy(table,header,column);});\
header.addEventListener('keydown',function(event){if(event.key==='Enter'||event.key===' '){event.preventDefault();sortBy(table,header,column);}});});});\
})();";

/// Scores of one group of calls: what the summary and the agents table show. Counted as the
/// `agents` table counts them: calls that were processed (scored or not scorable); a failed
/// input (a `failed` row of `calls`) is no call here and is counted apart, from `failures`.
#[derive(Debug, Default)]
struct ScoreStats {
    /// Scored and not scorable calls: `agents.calls`.
    calls: usize,
    /// `agents.scorable`.
    scorable: usize,
    not_scorable: usize,
    /// `agents.flagged`.
    flagged: usize,
    /// Scored calls that were not flagged.
    passed: usize,
    /// Sorted.
    scores: Vec<f64>,
}

impl ScoreStats {
    fn of<'a>(calls: impl IntoIterator<Item = &'a CallRow>) -> ScoreStats {
        let mut stats = ScoreStats::default();
        for call in calls {
            match call.status.as_str() {
                "scored" => {
                    stats.scorable += 1;
                    if !call.flagged {
                        stats.passed += 1;
                    }
                }
                "not_scorable" => stats.not_scorable += 1,
                // A failed input: not a call of `agents`.
                _ => continue,
            }
            stats.calls += 1;
            if call.flagged {
                stats.flagged += 1;
            }
            if let Some(score) = call.score {
                stats.scores.push(score);
            }
        }
        stats.scores.sort_by(f64::total_cmp);
        stats
    }

    fn mean(&self) -> Option<f64> {
        crate::score::mean(&self.scores)
    }

    fn pass_rate(&self) -> Option<f64> {
        (self.scorable > 0).then(|| self.passed as f64 / self.scorable as f64)
    }
}

/// The lowest-scoring calls of the period, worst first.
fn worst_calls(calls: &[CallRow], period: Period) -> Vec<&CallRow> {
    let mut worst: Vec<&CallRow> = calls
        .iter()
        .filter(|call| period.contains(call.call_date) && call.score.is_some())
        .collect();
    worst.sort_by(|left, right| {
        left.score
            .unwrap_or(0.0)
            .total_cmp(&right.score.unwrap_or(0.0))
            .then(right.flagged.cmp(&left.flagged))
            .then(left.call_id.cmp(&right.call_id))
    });
    worst.truncate(N_WORST_CALLS);
    worst
}

/// Renders the report of `period`.
///
/// `tables` is the dataset or any part of it that holds the period and the
/// [`TREND_BASELINE_DAYS`] before it; rows outside the period only feed the trend. Segments
/// are needed only for the worst calls; `agents` is not used (statistics over a range of
/// dates are computed from the calls themselves, counted as `agents` counts them). `audits`
/// are all verdicts to date.
pub fn render(
    tables: &Tables,
    audits: &[AuditRow],
    period: Period,
    settings: &ReportSettings,
) -> String {
    let calls: Vec<&CallRow> = tables
        .calls
        .iter()
        .filter(|call| period.contains(call.call_date))
        .collect();
    let findings: Vec<&FindingRow> = tables
        .findings
        .iter()
        .filter(|finding| period.contains(finding.call_date))
        .collect();
    let failures: Vec<&FailureRow> = tables
        .failures
        .iter()
        .filter(|failure| period.contains(failure.call_date))
        .collect();
    let n_failed_inputs = failures.len();
    let dates: BTreeSet<NaiveDate> = calls.iter().map(|call| call.call_date).collect();
    let period_label = match (
        period.from.or(dates.first().copied()),
        period.to.or(dates.last().copied()),
    ) {
        (Some(first), Some(last)) if first == last => first.to_string(),
        (Some(first), Some(last)) => format!("{first} – {last}"),
        _ => "no calls".to_string(),
    };
    let team = ScoreStats::of(calls.iter().copied());

    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Call quality · {period}</title><style>{STYLE}</style></head><body>\
         <header><h1>Call quality report</h1><p class=\"muted\">Calls of {period} · {n_dates} call date{plural} · {rules} · callqa {version} · times in {timezone}</p>\
         <nav class=\"screen\"><a href=\"#summary\">Summary</a><a href=\"#agents\">Agents</a><a href=\"#distribution\">Scores</a>\
         <a href=\"#findings\">Findings</a><a href=\"#worst\">Worst calls</a>{failures_link}</nav></header>",
        period = escape_html(&period_label),
        n_dates = dates.len(),
        plural = if dates.len() == 1 { "" } else { "s" },
        rules = escape_html(&rules_label(&calls)),
        version = escape_html(crate::VERSION),
        timezone = escape_html(settings.timezone.name()),
        failures_link = if n_failed_inputs > 0 {
            "<a href=\"#failures\">Failed inputs</a>"
        } else {
            ""
        },
    );

    render_summary(&mut html, &team, &failures, &calls, &dates);
    render_agents(&mut html, tables, &calls, &findings, &failures);
    html.push_str("<section id=\"distribution\"><h2>Score distribution</h2>");
    if team.scores.is_empty() {
        html.push_str("<p class=\"muted\">No scored calls in this period.</p>");
    } else {
        let _ = write!(
            html,
            "<p class=\"muted\">{} scored calls in bands of ten points; median {}, 10th percentile {}.</p>",
            team.scores.len(),
            format_score(crate::score::median(&team.scores)),
            format_score(crate::score::nearest_rank(&team.scores, 0.10)),
        );
        html.push_str(&score_histogram_svg(&team.scores));
    }
    html.push_str("</section>");
    render_findings(&mut html, &calls, &findings, audits);
    render_worst_calls(&mut html, tables, &findings, period, settings.timezone);
    render_failures(&mut html, &failures);
    let threshold = match settings.flag_threshold {
        Some(threshold) => format!("below {}", format_threshold(threshold)),
        None => match inferred_threshold(&calls, &findings) {
            Inferred::Default(threshold) => format!(
                "below {} (the default of <code>--flag-below</code>, which the calls' flags agree with)",
                format_threshold(threshold)
            ),
            Inferred::Between { above, at_most } => format!(
                "below the threshold the run was given with <code>--flag-below</code> (not the default {}: \
                 the calls' flags put it {})",
                format_threshold(crate::score::ScoringConfig::default().flag_threshold),
                [
                    above.map(|above| format!("above {}", format_threshold(above))),
                    at_most.map(|at_most| format!("at or below {}", format_threshold(at_most))),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and "),
            ),
        },
    };
    let _ = write!(
        html,
        "<footer><h2>How to read this</h2><p class=\"muted\">Every call starts at 100; each failed rule subtracts its points once; a failed critical rule makes the score 0. \
         A call is flagged when it failed a critical or major rule or scored {threshold}. \
         Pass rate is the share of scored calls that were not flagged: a call passes when it got a score and was not flagged. \
         Calls are the recordings that were processed, scored or not; not scorable calls (no speech, too short, wrong channel layout) have no score, are not averaged and charge no one with a failure; \
         failed inputs (audio that could not be processed) are counted apart and listed at the end. \
         A failure is a rule that lowered a scored call's score (once per call, however many findings it made), as the <code>agents</code> table counts them. \
         Dates are call dates in {timezone}, and times are shown there. \
         Personal data in quoted text is replaced by placeholders such as [CARD], unless the run was told to keep it (<code>--keep-personal-data</code>). Precision is the share of audited findings that the auditor judged correct.</p></footer>",
        timezone = escape_html(settings.timezone.name()),
    );
    let _ = writeln!(html, "<script>{SORT_SCRIPT}</script></body></html>");
    html
}

/// A score threshold as written on the command line: `70`, `72.5`.
fn format_threshold(threshold: f64) -> String {
    format!("{threshold}")
}

/// What the calls' flags say of the flag threshold the run used.
#[derive(Debug, PartialEq)]
enum Inferred {
    /// The default threshold, which every flag agrees with.
    Default(f64),
    /// Not the default: the threshold is above `above` and at or below `at_most` (one of
    /// them is known).
    Between {
        above: Option<f64>,
        at_most: Option<f64>,
    },
}

/// The flag threshold as far as the calls tell it. A scored call is flagged for an auto-fail, a
/// major (or critical) finding against the agent, or a score below the threshold: a call
/// flagged for none of the first two scored below it, and an unflagged one at or above it.
fn inferred_threshold(calls: &[&CallRow], findings: &[&FindingRow]) -> Inferred {
    let default = crate::score::ScoringConfig::default().flag_threshold;
    let serious: BTreeSet<&str> = findings
        .iter()
        .filter(|finding| {
            finding.speaker != "customer"
                && matches!(finding.severity.as_str(), "major" | "critical")
        })
        .map(|finding| finding.call_id.as_str())
        .collect();
    let mut above: Option<f64> = None;
    let mut at_most: Option<f64> = None;
    for call in calls {
        let Some(score) = call.score else {
            continue;
        };
        if call.status != "scored" {
            continue;
        }
        if !call.flagged {
            at_most = Some(at_most.map_or(score, |bound| bound.min(score)));
        } else if !call.auto_fail && !serious.contains(call.call_id.as_str()) {
            above = Some(above.map_or(score, |bound| bound.max(score)));
        }
    }
    let agrees =
        above.is_none_or(|above| above < default) && at_most.is_none_or(|at| default <= at);
    if agrees {
        Inferred::Default(default)
    } else {
        Inferred::Between { above, at_most }
    }
}

/// "rules 1a2b3c4d5e6f", naming how many rule versions scored the calls when there were several.
fn rules_label(calls: &[&CallRow]) -> String {
    let hashes: BTreeSet<&str> = calls
        .iter()
        .filter(|call| !call.rules_hash.is_empty())
        .map(|call| call.rules_hash.as_str())
        .collect();
    match hashes.len() {
        0 => "no rules".to_string(),
        1 => format!(
            "rules {}",
            hashes
                .first()
                .unwrap_or(&"")
                .chars()
                .take(12)
                .collect::<String>()
        ),
        n => format!("{n} rule versions"),
    }
}

fn render_summary(
    html: &mut String,
    team: &ScoreStats,
    failures: &[&FailureRow],
    calls: &[&CallRow],
    dates: &BTreeSet<NaiveDate>,
) {
    let n_failed_inputs = failures.len();
    let share = |count: usize, of: usize| -> String {
        if of == 0 {
            String::new()
        } else {
            format!("<small>{:.0} %</small>", count as f64 * 100.0 / of as f64)
        }
    };
    let _ = write!(
        html,
        "<section id=\"summary\"><h2>Team summary</h2><div class=\"cards\">\
         <div class=\"card\">Calls<b>{calls}</b><small>scored or not scorable</small></div>\
         <div class=\"card\">Scorable<b>{scorable}</b>{scorable_share}</div>\
         <div class=\"card\">Mean score<b>{mean}</b><small>median {median}</small></div>\
         <div class=\"card\">Flagged<b class=\"{flag_class}\">{flagged}</b>{flagged_share}</div>\
         <div class=\"card\">Pass rate<b>{pass_rate}</b><small>of scorable calls</small></div>\
         <div class=\"card\">Not scorable<b>{not_scorable}</b></div>\
         <div class=\"card\">Failed inputs<b class=\"{failed_class}\">{failed}</b><small>not among the calls</small></div></div>",
        calls = team.calls,
        scorable = team.scorable,
        scorable_share = share(team.scorable, team.calls),
        mean = format_score(team.mean()),
        median = format_score(crate::score::median(&team.scores)),
        flag_class = if team.flagged > 0 { "flag" } else { "" },
        flagged = team.flagged,
        flagged_share = share(team.flagged, team.calls),
        pass_rate = format_percent(team.pass_rate()),
        not_scorable = team.not_scorable,
        failed_class = if n_failed_inputs > 0 { "flag" } else { "" },
        failed = n_failed_inputs,
    );
    if dates.len() > 1 {
        html.push_str(
            "<h3>Mean score per call date</h3><p class=\"muted\">The mean over the day's scored calls; under each date, how many of its calls were scored.</p>",
        );
        let days: Vec<Bar> = dates
            .iter()
            .rev()
            .take(60)
            .rev()
            .map(|date| {
                let day =
                    ScoreStats::of(calls.iter().copied().filter(|call| call.call_date == *date));
                let failed = failures
                    .iter()
                    .filter(|failure| failure.call_date == *date)
                    .count();
                Bar {
                    label: date.format("%m-%d").to_string(),
                    title: format!(
                        "{date}: mean {} over {} scored call{} ({} call{}{})",
                        format_score(day.mean()),
                        day.scorable,
                        if day.scorable == 1 { "" } else { "s" },
                        day.calls,
                        if day.calls == 1 { "" } else { "s" },
                        match failed {
                            0 => String::new(),
                            1 => "; 1 failed input".to_string(),
                            n => format!("; {n} failed inputs"),
                        }
                    ),
                    value: day.mean().unwrap_or(0.0),
                    value_label: format_score(day.mean()),
                    note: format!("{} of {} scored", day.scorable, day.calls),
                }
            })
            .collect();
        html.push_str(&column_chart_svg(&days, Some(100.0)));
    }
    let not_scorable: Vec<&CallRow> = calls
        .iter()
        .copied()
        .filter(|call| call.status == "not_scorable")
        .collect();
    call_list(html, &not_scorable, "not scorable call", "Reason", |call| {
        call.status_reason.as_deref()
    });
    // Calls whose file the decoder had to repair: their findings rest on the audio that was
    // there (a recording cut short has no closing to find).
    let repaired: Vec<&CallRow> = calls
        .iter()
        .copied()
        .filter(|call| call.status != "failed" && call.decode_notes.is_some())
        .collect();
    call_list(
        html,
        &repaired,
        "call analysed from a repaired recording",
        "What the decoder repaired",
        |call| call.decode_notes.as_deref(),
    );
    html.push_str("</section>");
}

/// A folded list of calls (the first 200) with one column of explanation; nothing when empty.
/// `noun` is singular and names "call" once ("not scorable call"); for more than one call it
/// becomes "calls".
fn call_list(
    html: &mut String,
    calls: &[&CallRow],
    noun: &str,
    header: &str,
    explanation: impl Fn(&CallRow) -> Option<&str>,
) {
    if calls.is_empty() {
        return;
    }
    let noun = if calls.len() == 1 {
        noun.to_string()
    } else {
        noun.replacen("call", "calls", 1)
    };
    let _ = write!(
        html,
        "<details class=\"print-open\"><summary>{} {noun}</summary><div class=\"scroll\"><table><thead><tr><th>Call</th><th>Agent</th><th>Date</th><th>{header}</th></tr></thead><tbody>",
        calls.len(),
    );
    for call in calls.iter().take(200) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&call.call_id),
            escape_html(&call.agent_id),
            call.call_date,
            escape_html(explanation(call).unwrap_or(""))
        );
    }
    html.push_str("</tbody></table></div></details>");
}

/// An agent's daily mean scores over the latest date and the baseline days before it.
struct AgentTrend {
    /// (date, mean score) for each date with scored calls, oldest first.
    daily: Vec<(NaiveDate, f64)>,
    /// Mean on the latest date minus mean over the baseline days before it.
    change: Option<f64>,
}

fn agent_trend(all_calls: &[CallRow], agent_id: &str, latest: NaiveDate) -> AgentTrend {
    let baseline_start = latest
        .checked_sub_days(Days::new(TREND_BASELINE_DAYS))
        .unwrap_or(NaiveDate::MIN);
    let mut by_date: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    for call in all_calls {
        if call.agent_id == agent_id
            && call.call_date >= baseline_start
            && call.call_date <= latest
            && let Some(score) = call.score
        {
            by_date.entry(call.call_date).or_default().push(score);
        }
    }
    let mean_of = |scores: &[f64]| scores.iter().sum::<f64>() / scores.len() as f64;
    let latest_mean = by_date.get(&latest).map(|scores| mean_of(scores));
    let before: Vec<f64> = by_date
        .iter()
        .filter(|(date, _)| **date < latest)
        .flat_map(|(_, scores)| scores.iter().copied())
        .collect();
    let change = match latest_mean {
        Some(latest_mean) if !before.is_empty() => Some(latest_mean - mean_of(&before)),
        _ => None,
    };
    AgentTrend {
        daily: by_date
            .iter()
            .map(|(date, scores)| (*date, mean_of(scores)))
            .collect(),
        change,
    }
}

/// The rank of a severity: critical above major above minor above info.
fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "major" => 2,
        "minor" => 1,
        _ => 0,
    }
}

/// One failed rule of one call (findings marked `counted`, a rule once per call): what
/// `agents.failures_<category>` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Failure<'a> {
    agent_id: &'a str,
    call_date: NaiveDate,
    category: &'a str,
    call_id: &'a str,
    rule_id: &'a str,
}

/// The failures of `findings`, each with the highest severity of its findings.
fn failures_of<'a>(findings: &[&'a FindingRow]) -> BTreeMap<Failure<'a>, &'a str> {
    let mut failures: BTreeMap<Failure<'a>, &'a str> = BTreeMap::new();
    for finding in findings.iter().filter(|finding| finding.counted) {
        let severity = failures
            .entry(Failure {
                agent_id: &finding.agent_id,
                call_date: finding.call_date,
                category: &finding.category,
                call_id: &finding.call_id,
                rule_id: &finding.rule_id,
            })
            .or_insert(&finding.severity);
        if severity_rank(&finding.severity) > severity_rank(severity) {
            *severity = &finding.severity;
        }
    }
    failures
}

/// An agent's most failed category, by failures, then the most severe failure of the
/// category, then name (categories tied on both are named together); with every other
/// category the agent failed a critical rule of, so an auto-fail is never hidden behind a more
/// frequent minor failure.
fn most_failed(categories: &BTreeMap<&str, (usize, &str)>) -> String {
    let mut ranked: Vec<(&str, usize, &str)> = categories
        .iter()
        .map(|(category, (count, severity))| (*category, *count, *severity))
        .collect();
    ranked.sort_by(|left, right| {
        right
            .1
            .cmp(&left.1)
            .then(severity_rank(right.2).cmp(&severity_rank(left.2)))
            .then(left.0.cmp(right.0))
    });
    let Some(&(_, count, severity)) = ranked.first() else {
        return String::new();
    };
    let (top, rest): (Vec<_>, Vec<_>) = ranked.iter().partition(|(_, other_count, other)| {
        *other_count == count && severity_rank(other) == severity_rank(severity)
    });
    let names: Vec<String> = top
        .iter()
        .map(|(category, _, _)| category.replace('_', " "))
        .collect();
    let mut text = format!(
        "{} ({count}{}{})",
        names.join(", "),
        if names.len() > 1 { " each" } else { "" },
        if severity == "critical" {
            ", critical"
        } else {
            ""
        }
    );
    let critical: Vec<String> = rest
        .iter()
        .filter(|(_, _, severity)| *severity == "critical")
        .map(|(category, count, _)| format!("{} ({count})", category.replace('_', " ")))
        .collect();
    if !critical.is_empty() {
        let _ = write!(text, " · critical: {}", critical.join(", "));
    }
    text
}

fn render_agents(
    html: &mut String,
    tables: &Tables,
    calls: &[&CallRow],
    findings: &[&FindingRow],
    failures: &[&FailureRow],
) {
    let latest = calls.iter().map(|call| call.call_date).max();
    let mut by_agent: BTreeMap<&str, Vec<&CallRow>> = BTreeMap::new();
    for call in calls {
        by_agent
            .entry(call.agent_id.as_str())
            .or_default()
            .push(call);
    }
    // Failed inputs by agent; an agent with nothing but failed inputs still has a row.
    let mut failed_inputs: BTreeMap<&str, usize> = BTreeMap::new();
    for failure in failures {
        *failed_inputs.entry(failure.agent_id.as_str()).or_default() += 1;
        by_agent.entry(failure.agent_id.as_str()).or_default();
    }
    // Failures by agent and category, with the most severe failure of each category.
    let mut categories: BTreeMap<&str, BTreeMap<&str, (usize, &str)>> = BTreeMap::new();
    for (failure, severity) in failures_of(findings) {
        let (count, worst) = categories
            .entry(failure.agent_id)
            .or_default()
            .entry(failure.category)
            .or_insert((0, severity));
        *count += 1;
        if severity_rank(severity) > severity_rank(worst) {
            *worst = severity;
        }
    }
    let mut rows: Vec<(&str, ScoreStats)> = by_agent
        .into_iter()
        .map(|(agent, agent_calls)| (agent, ScoreStats::of(agent_calls)))
        .collect();
    // Worst first, so the page reads (and prints) usefully without the sorting script.
    rows.sort_by(|left, right| {
        left.1
            .mean()
            .unwrap_or(f64::INFINITY)
            .total_cmp(&right.1.mean().unwrap_or(f64::INFINITY))
            .then(left.0.cmp(right.0))
    });
    let _ = write!(
        html,
        "<section id=\"agents\"><h2>Agents</h2><p class=\"muted\">Lowest mean score first; click a column to sort. \
         Calls, Scorable, Flagged and the failures are counted as in the <code>agents</code> table; failed inputs (the agent's recordings that could not be processed) are not calls and are counted apart. \
         Most failed: the category with the most failures (rules that lowered a score), the more severe first among equals (categories still tied are named together), and any other category with a critical failure. \
         Trend: the agent's mean score on the latest call date{latest} against their mean over the {TREND_BASELINE_DAYS} days before; \
         the line shows each day's mean (0–100).</p>",
        latest = latest.map_or_else(String::new, |date| format!(" ({date})")),
    );
    if rows.is_empty() {
        html.push_str("<p class=\"muted\">No calls in this period.</p></section>");
        return;
    }
    html.push_str(
        "<div class=\"scroll\"><table class=\"sortable\" id=\"agents-table\"><thead><tr>\
         <th data-type=\"text\">Agent</th><th class=\"num\" data-type=\"number\">Calls</th><th class=\"num\" data-type=\"number\">Scorable</th>\
         <th class=\"num\" data-type=\"number\">Failed inputs</th>\
         <th class=\"num\" data-type=\"number\" aria-sort=\"ascending\">Mean score</th><th class=\"num\" data-type=\"number\">Median</th>\
         <th class=\"num\" data-type=\"number\">P10</th><th class=\"num\" data-type=\"number\">Pass rate</th>\
         <th class=\"num\" data-type=\"number\">Flagged</th><th data-type=\"text\">Most failed</th>\
         <th class=\"num\" data-type=\"number\">Change</th><th>Trend</th></tr></thead><tbody>",
    );
    let trends: Vec<Option<AgentTrend>> = rows
        .iter()
        .map(|(agent, _)| latest.map(|latest| agent_trend(&tables.calls, agent, latest)))
        .collect();
    // One date axis for every agent's line, so the dots of one day line up down the column.
    let axis = latest.map(|latest| {
        let first = trends
            .iter()
            .flatten()
            .filter_map(|trend| trend.daily.first().map(|(date, _)| *date))
            .min()
            .unwrap_or(latest);
        (first, latest)
    });
    for ((agent, stats), trend) in rows.iter().zip(trends) {
        let change = trend.as_ref().and_then(|trend| trend.change);
        let change_cell = match change {
            Some(change) if change > 0.05 => format!("<span class=\"up\">▲ {change:+.1}</span>"),
            Some(change) if change < -0.05 => format!("<span class=\"down\">▼ {change:+.1}</span>"),
            Some(change) => format!("{change:+.1}"),
            None => "<span class=\"muted\">–</span>".to_string(),
        };
        let most_failed = categories.get(agent).map(most_failed).unwrap_or_default();
        let failed = failed_inputs.get(agent).copied().unwrap_or(0);
        let _ = write!(
            html,
            "<tr><td>{agent}</td><td class=\"num\">{calls}</td><td class=\"num\">{scorable}</td><td class=\"num\">{failed}</td>\
             <td class=\"num\" data-value=\"{mean_value}\">{mean}</td><td class=\"num\" data-value=\"{median_value}\">{median}</td>\
             <td class=\"num\" data-value=\"{p10_value}\">{p10}</td><td class=\"num\" data-value=\"{pass_value}\">{pass_rate}</td>\
             <td class=\"num\">{flagged}</td><td>{most_failed}</td><td class=\"num\" data-value=\"{change_value}\">{change_cell}</td><td>{sparkline}</td></tr>",
            agent = escape_html(agent),
            calls = stats.calls,
            scorable = stats.scorable,
            failed = if failed > 0 {
                format!("<span class=\"flag\">{failed}</span>")
            } else {
                "0".to_string()
            },
            mean_value = sort_value(stats.mean()),
            mean = format_score(stats.mean()),
            median_value = sort_value(crate::score::median(&stats.scores)),
            median = format_score(crate::score::median(&stats.scores)),
            p10_value = sort_value(crate::score::nearest_rank(&stats.scores, 0.10)),
            p10 = format_score(crate::score::nearest_rank(&stats.scores, 0.10)),
            pass_value = sort_value(stats.pass_rate()),
            pass_rate = format_percent(stats.pass_rate()),
            flagged = if stats.flagged > 0 {
                format!("<span class=\"flag\">{}</span>", stats.flagged)
            } else {
                "0".to_string()
            },
            most_failed = escape_html(&most_failed),
            change_value = sort_value(change),
            sparkline = match (trend, axis) {
                (Some(trend), Some(axis)) => sparkline_svg(&trend.daily, axis),
                _ => String::new(),
            },
        );
    }
    html.push_str("</tbody></table></div></section>");
}

/// Audit verdicts of one rule (or of the control calls).
#[derive(Debug, Default, Clone, Copy)]
struct Verdicts {
    correct: usize,
    incorrect: usize,
}

impl Verdicts {
    fn judged(&self) -> usize {
        self.correct + self.incorrect
    }

    fn precision(&self) -> Option<f64> {
        (self.judged() > 0).then(|| self.correct as f64 / self.judged() as f64)
    }

    /// Wilson score interval (95 %) of the precision: honest about small samples.
    fn interval(&self) -> Option<(f64, f64)> {
        let n = self.judged() as f64;
        if n == 0.0 {
            return None;
        }
        let z = 1.96_f64;
        let p = self.correct as f64 / n;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / (1.0 + z * z / n);
        Some(((centre - half).max(0.0), (centre + half).min(1.0)))
    }
}

/// The latest verdict per audited item (an item audited in two samples counts once, as last
/// judged), split into findings by rule and control calls.
fn latest_verdicts(audits: &[AuditRow]) -> (BTreeMap<&str, Verdicts>, Verdicts, usize) {
    let mut latest: BTreeMap<(&str, &str), &AuditRow> = BTreeMap::new();
    for audit in audits {
        if audit.verdict.is_none() {
            continue;
        }
        let key = (audit.kind.as_str(), audit.item_id.as_str());
        match latest.get(&key) {
            Some(seen) if seen.imported_at > audit.imported_at => {}
            _ => {
                latest.insert(key, audit);
            }
        }
    }
    let mut by_rule: BTreeMap<&str, Verdicts> = BTreeMap::new();
    let mut control = Verdicts::default();
    for audit in latest.values() {
        let verdicts = if audit.kind == "control" {
            &mut control
        } else {
            by_rule
                .entry(audit.rule_id.as_deref().unwrap_or(""))
                .or_default()
        };
        match audit.verdict.as_deref() {
            Some("correct") => verdicts.correct += 1,
            Some("incorrect") => verdicts.incorrect += 1,
            _ => {}
        }
    }
    let n_samples = audits
        .iter()
        .map(|audit| audit.sample_id.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    (by_rule, control, n_samples)
}

/// Why a finding did not count against the agent, in words; `None` when it counted.
fn not_counted_reason(finding: &FindingRow, status: Option<&str>) -> Option<&'static str> {
    if finding.counted {
        None
    } else if status != Some("scored") {
        Some("on calls that could not be scored")
    } else if finding.severity == "info" {
        Some("informational (info severity)")
    } else if finding.speaker == "customer" {
        Some("in the customer's own words")
    } else {
        Some(
            "in files written before callqa marked counted findings (`callqa rescore` writes them again)",
        )
    }
}

fn render_findings(
    html: &mut String,
    calls: &[&CallRow],
    findings: &[&FindingRow],
    audits: &[AuditRow],
) {
    let failures = failures_of(findings);
    let n_counted = findings.iter().filter(|finding| finding.counted).count();
    let status: BTreeMap<&str, &str> = calls
        .iter()
        .map(|call| (call.call_id.as_str(), call.status.as_str()))
        .collect();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut not_counted: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in findings {
        if let Some(reason) =
            not_counted_reason(finding, status.get(finding.call_id.as_str()).copied())
        {
            *reasons.entry(reason).or_default() += 1;
            *not_counted.entry(finding.category.as_str()).or_default() += 1;
        }
    }
    let _ = write!(
        html,
        "<section id=\"findings\"><h2>Failures by category</h2><p class=\"muted\">Failures: findings that lowered a score, \
         on scored calls, a rule counted once per call however many findings it made there (as the <code>agents</code> table's \
         <code>failures_…</code> columns count them; the <code>findings</code> table marks these findings <code>counted</code>). \
         {n} finding{plural} in this period: {n_counted} counted ({n_failures} failure{failures_plural}), {n_not_counted} not counted.</p>",
        n = findings.len(),
        plural = if findings.len() == 1 { "" } else { "s" },
        n_failures = failures.len(),
        failures_plural = if failures.len() == 1 { "" } else { "s" },
        n_not_counted = findings.len() - n_counted,
    );
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for failure in failures.keys() {
        *by_category.entry(failure.category).or_default() += 1;
    }
    let mut categories: Vec<&str> = CATEGORIES.to_vec();
    // A category the rulebooks use but this build does not know still shows.
    categories.extend(
        by_category
            .keys()
            .chain(not_counted.keys())
            .filter(|category| !CATEGORIES.contains(category))
            .collect::<BTreeSet<_>>(),
    );
    let bars: Vec<Bar> = categories
        .iter()
        .map(|category| {
            let count = by_category.get(category).copied().unwrap_or(0);
            Bar {
                label: category.replace('_', " "),
                title: format!(
                    "{category}: {count} failure{}",
                    if count == 1 { "" } else { "s" }
                ),
                value: count as f64,
                value_label: count.to_string(),
                note: String::new(),
            }
        })
        .collect();
    html.push_str(&bar_rows_svg(&bars));
    if !not_counted.is_empty() {
        let _ = write!(
            html,
            "<p class=\"muted\">Findings that did not lower a score (not counted above): {}; by category: {}.</p>",
            reasons
                .iter()
                .map(|(reason, count)| format!("{count} {reason}"))
                .collect::<Vec<_>>()
                .join(", "),
            not_counted
                .iter()
                .map(|(category, count)| format!(
                    "{} {count}",
                    escape_html(&category.replace('_', " "))
                ))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }

    let (verdicts, control, n_samples) = latest_verdicts(audits);
    #[derive(Default)]
    struct RuleCount<'a> {
        category: &'a str,
        severity: &'a str,
        findings: usize,
        not_counted: usize,
        /// Calls where the rule lowered the score: its failures.
        failed_calls: BTreeSet<&'a str>,
    }
    let mut by_rule: BTreeMap<&str, RuleCount<'_>> = BTreeMap::new();
    for finding in findings {
        let count = by_rule.entry(finding.rule_id.as_str()).or_default();
        count.category = &finding.category;
        // A rule's findings can differ in severity (one whose speaker is unknown is `info`).
        if severity_rank(&finding.severity) >= severity_rank(count.severity) {
            count.severity = &finding.severity;
        }
        count.findings += 1;
        if finding.counted {
            count.failed_calls.insert(&finding.call_id);
        } else {
            count.not_counted += 1;
        }
    }
    // Rules that were audited but found nothing in this period still show their precision.
    for rule_id in verdicts.keys() {
        by_rule.entry(rule_id).or_default();
    }
    let mut rules: Vec<(&str, RuleCount<'_>)> = by_rule.into_iter().collect();
    rules.sort_by(|left, right| {
        right
            .1
            .failed_calls
            .len()
            .cmp(&left.1.failed_calls.len())
            .then(right.1.findings.cmp(&left.1.findings))
            .then(left.0.cmp(right.0))
    });
    let audited_note = if n_samples == 0 {
        "No audits imported yet: precision appears once auditors' sheets are imported with <code>callqa audit import</code>.".to_string()
    } else {
        let judged: usize = verdicts.values().map(Verdicts::judged).sum();
        format!(
            "Precision from {judged} audited findings in {n_samples} sample{} (all dates; the latest verdict per finding), with its 95 % interval.",
            if n_samples == 1 { "" } else { "s" }
        )
    };
    let _ = write!(
        html,
        "<h2>Findings by rule</h2><p class=\"muted\">Every finding of the period. Failures: calls where the rule lowered the score; \
         not counted: findings that did not (on calls not scored, informational, or the customer's own words). {audited_note}</p>\
         <div class=\"scroll\"><table class=\"sortable\"><thead><tr>\
         <th data-type=\"text\">Rule</th><th data-type=\"text\">Category</th><th data-type=\"text\">Severity</th>\
         <th class=\"num\" data-type=\"number\" aria-sort=\"descending\">Failures</th><th class=\"num\" data-type=\"number\">Findings</th>\
         <th class=\"num\" data-type=\"number\">Not counted</th>\
         <th class=\"num\" data-type=\"number\">Audited</th><th class=\"num\" data-type=\"number\">Precision</th></tr></thead><tbody>"
    );
    if rules.is_empty() {
        html.push_str(
            "<tr><td colspan=\"8\" class=\"muted\">No findings in this period.</td></tr>",
        );
    }
    for (rule_id, count) in &rules {
        let rule_verdicts = verdicts.get(rule_id).copied().unwrap_or_default();
        let precision = match (rule_verdicts.precision(), rule_verdicts.interval()) {
            (Some(precision), Some((low, high))) => format!(
                "{} <span class=\"muted\">({:.0}–{:.0} %)</span>",
                format_percent(Some(precision)),
                low * 100.0,
                high * 100.0
            ),
            _ => "<span class=\"muted\">–</span>".to_string(),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\" data-value=\"{}\">{precision}</td></tr>",
            escape_html(rule_id),
            escape_html(&count.category.replace('_', " ")),
            escape_html(count.severity),
            count.failed_calls.len(),
            count.findings,
            count.not_counted,
            rule_verdicts.judged(),
            sort_value(rule_verdicts.precision()),
        );
    }
    html.push_str("</tbody></table></div>");
    if control.judged() > 0 {
        let _ = write!(
            html,
            "<p>Control calls (unflagged calls drawn into audit samples): {} audited, {} judged rightly unflagged, \
             <span class=\"{}\">{} that should have been flagged</span>.</p>",
            control.judged(),
            control.correct,
            if control.incorrect > 0 { "flag" } else { "" },
            control.incorrect
        );
    }
    html.push_str("</section>");
}

fn render_worst_calls(
    html: &mut String,
    tables: &Tables,
    findings: &[&FindingRow],
    period: Period,
    timezone: Tz,
) {
    let worst = worst_calls(&tables.calls, period);
    let _ = write!(
        html,
        "<section id=\"worst\"><h2>Worst calls</h2><p class=\"muted\">The {} lowest-scoring calls with the evidence of each finding \
         and what was said at that time (personal data redacted; start times in {}, the time zone of the call dates; times in the tables from the start of the call). \
         Points that did not lower the score (informational findings, the customer's own words) are marked not counted.</p>",
        worst.len(),
        escape_html(timezone.name()),
    );
    if worst.is_empty() {
        html.push_str("<p class=\"muted\">No scored calls in this period.</p>");
    }
    for call in worst {
        let segments: Vec<&SegmentRow> = tables
            .segments
            .iter()
            .filter(|segment| segment.call_id == call.call_id)
            .collect();
        let started = call.started_at.map_or_else(
            || call.call_date.to_string(),
            |time| {
                format!(
                    "{} {}",
                    time.with_timezone(&timezone).format("%Y-%m-%d %H:%M"),
                    timezone.name()
                )
            },
        );
        let _ = write!(
            html,
            "<div class=\"call\"><h3>{call_id} <span class=\"muted\">· agent {agent} · {started} · {duration}</span> · score {score}{badges}</h3>",
            call_id = escape_html(&call.call_id),
            agent = escape_html(&call.agent_id),
            started = escape_html(&started),
            duration = call
                .duration_ms
                .map_or_else(String::new, |ms| format!("{:.0} s", ms as f64 / 1000.0)),
            score = format_score(call.score),
            badges = match (call.auto_fail, call.flagged) {
                (true, _) => " <span class=\"badge\">auto-fail</span>",
                (false, true) => " <span class=\"badge\">flagged</span>",
                _ => "",
            },
        );
        html.push_str(
            "<div class=\"scroll\"><table><thead><tr><th>Rule</th><th>Severity</th><th class=\"num\">Points</th><th>Speaker</th>\
             <th>Time</th><th>Evidence</th><th>Said at that time</th></tr></thead><tbody>",
        );
        let call_findings: Vec<&&FindingRow> = findings
            .iter()
            .filter(|finding| finding.call_id == call.call_id)
            .collect();
        if call_findings.is_empty() {
            html.push_str("<tr><td colspan=\"7\" class=\"muted\">No findings.</td></tr>");
        }
        for finding in call_findings {
            let said = match (finding.start_ms, finding.end_ms) {
                (Some(start), Some(end)) if end.saturating_sub(start) <= MAX_QUOTED_SPAN_MS => {
                    quoted_segments(&segments, start, end)
                }
                _ => String::new(),
            };
            let points = if finding.counted {
                finding.points.to_string()
            } else {
                format!(
                    "<span class=\"muted\">{}, not counted</span>",
                    finding.points
                )
            };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{points}</td><td>{}</td><td class=\"time\">{}</td><td class=\"evidence\" dir=\"auto\">{}</td><td>{said}</td></tr>",
                escape_html(&finding.rule_id),
                escape_html(&finding.severity),
                escape_html(&finding.speaker),
                format_span(finding.start_ms, finding.end_ms),
                escape_html(&finding.evidence),
            );
        }
        html.push_str("</tbody></table></div>");
        if !segments.is_empty() {
            let _ = write!(
                html,
                "<details class=\"transcript\"><summary>Transcript ({} utterances)</summary><ul class=\"said\">{}</ul></details>",
                segments.len(),
                segments
                    .iter()
                    .map(|segment| quote_segment(segment))
                    .collect::<String>()
            );
        }
        html.push_str("</div>");
    }
    html.push_str("</section>");
}

fn quote_segment(segment: &SegmentRow) -> String {
    format!(
        "<li><span class=\"who\">{} {}</span> <span dir=\"auto\">{}</span></li>",
        escape_html(&segment.speaker),
        format_time(segment.start_ms),
        escape_html(&segment.text)
    )
}

/// The utterances overlapping `start..end`, as a list.
fn quoted_segments(segments: &[&SegmentRow], start_ms: u64, end_ms: u64) -> String {
    let quoted: String = segments
        .iter()
        .filter(|segment| segment.start_ms <= end_ms && segment.end_ms >= start_ms)
        .map(|segment| quote_segment(segment))
        .collect();
    if quoted.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"said\">{quoted}</ul>")
    }
}

fn render_failures(html: &mut String, failures: &[&FailureRow]) {
    if failures.is_empty() {
        return;
    }
    html.push_str(
        "<section id=\"failures\"><h2>Inputs that could not be processed</h2><div class=\"scroll\"><table><thead><tr>\
         <th>Call</th><th>Agent</th><th>Stage</th><th>Error</th><th>Message</th></tr></thead><tbody>",
    );
    for failure in failures {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&failure.call_id),
            escape_html(&failure.agent_id),
            escape_html(&failure.stage),
            escape_html(&failure.error),
            escape_html(&failure.message)
        );
    }
    html.push_str("</tbody></table></div></section>");
}

/// One bar of a chart. Every text is escaped when drawn.
struct Bar {
    label: String,
    /// Tooltip.
    title: String,
    value: f64,
    value_label: String,
    /// A second line under the label (may be empty).
    note: String,
}

/// Histogram of call scores in ten bands of ten points (100 falls in the last).
fn score_histogram_svg(scores: &[f64]) -> String {
    let mut bins = [0usize; 10];
    for score in scores {
        let bin = ((score / 10.0).floor().max(0.0) as usize).min(9);
        bins[bin] += 1;
    }
    let bars: Vec<Bar> = bins
        .iter()
        .enumerate()
        .map(|(bin, count)| {
            let label = format!("{}–{}", bin * 10, bin * 10 + 10);
            Bar {
                title: format!(
                    "score {label}: {count} call{}",
                    if *count == 1 { "" } else { "s" }
                ),
                label,
                value: *count as f64,
                value_label: count.to_string(),
                note: String::new(),
            }
        })
        .collect();
    column_chart_svg(&bars, None)
}

/// Vertical bars with their value on top and their label below, as inline SVG (no script;
/// prints as it is). `max` fixes the scale (100 for scores); `None` scales to the largest.
fn column_chart_svg(bars: &[Bar], max: Option<f64>) -> String {
    // A few bars stay bar-sized instead of filling the width.
    let slot = (720.0 / bars.len().max(1) as f64).min(90.0);
    let width = (slot * bars.len().max(1) as f64).max(180.0);
    let height = 210.0;
    let bottom = 165.0;
    let plot_height = 135.0;
    let max = max
        .unwrap_or_else(|| bars.iter().map(|bar| bar.value).fold(0.0, f64::max))
        .max(1.0);
    let font = if slot < 40.0 { 9 } else { 11 };
    let mut svg = format!(
        "<svg role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"0\" y1=\"{bottom}\" x2=\"{width}\" y2=\"{bottom}\" stroke=\"#d0d7de\"/>"
    );
    for (index, bar) in bars.iter().enumerate() {
        let bar_height = (bar.value / max).clamp(0.0, 1.0) * plot_height;
        let x = index as f64 * slot + slot * 0.15;
        let centre = x + slot * 0.35;
        let _ = write!(
            svg,
            "<g><title>{title}</title><rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar_width:.1}\" height=\"{bar_height:.1}\" fill=\"#4f6bed\" rx=\"2\"/>\
             <text x=\"{centre:.1}\" y=\"{value_y:.1}\" font-size=\"{font}\" text-anchor=\"middle\">{value}</text>\
             <text x=\"{centre:.1}\" y=\"{label_y:.1}\" font-size=\"{font}\" text-anchor=\"middle\">{label}</text>\
             <text x=\"{centre:.1}\" y=\"{note_y:.1}\" font-size=\"{note_font}\" text-anchor=\"middle\" fill=\"#57606a\">{note}</text></g>",
            title = escape_html(&bar.title),
            top = bottom - bar_height,
            bar_width = slot * 0.7,
            value_y = bottom - bar_height - 4.0,
            value = escape_html(&bar.value_label),
            label_y = bottom + 16.0,
            label = escape_html(&bar.label),
            note_y = bottom + 30.0,
            note_font = font - 1,
            note = escape_html(&bar.note),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one row per label: readable for long category names.
fn bar_rows_svg(bars: &[Bar]) -> String {
    let width = 720.0;
    let row = 22.0;
    let label_width = 150.0;
    let plot_width = width - label_width - 50.0;
    let height = row * bars.len() as f64 + 6.0;
    let max = bars
        .iter()
        .map(|bar| bar.value)
        .fold(0.0, f64::max)
        .max(1.0);
    let mut svg = format!(
        "<svg role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (index, bar) in bars.iter().enumerate() {
        let y = index as f64 * row + 3.0;
        let bar_width = (bar.value / max).clamp(0.0, 1.0) * plot_width;
        let _ = write!(
            svg,
            "<g><title>{title}</title><text x=\"{label_x:.1}\" y=\"{text_y:.1}\" font-size=\"12\" text-anchor=\"end\">{label}</text>\
             <rect x=\"{label_width:.1}\" y=\"{y:.1}\" width=\"{bar_width:.1}\" height=\"{bar_height:.1}\" fill=\"#4f6bed\" rx=\"2\"/>\
             <text x=\"{value_x:.1}\" y=\"{text_y:.1}\" font-size=\"12\">{value}</text></g>",
            title = escape_html(&bar.title),
            label_x = label_width - 8.0,
            text_y = y + row * 0.62,
            label = escape_html(&bar.label),
            bar_height = row - 6.0,
            value_x = label_width + bar_width + 6.0,
            value = escape_html(&bar.value_label),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A small line of daily mean scores (scale 0–100), one dot per call date, over the dates
/// `axis` (first, last): the same axis for every agent.
fn sparkline_svg(daily: &[(NaiveDate, f64)], (first, last): (NaiveDate, NaiveDate)) -> String {
    let width = 120.0;
    let height = 28.0;
    if daily.is_empty() {
        return String::new();
    }
    let span_days = (last - first).num_days();
    let point = |(date, mean): &(NaiveDate, f64)| -> (f64, f64) {
        let x = if span_days == 0 {
            width - 4.0
        } else {
            4.0 + (*date - first).num_days() as f64 / span_days as f64 * (width - 8.0)
        };
        let y = 3.0 + (1.0 - mean.clamp(0.0, 100.0) / 100.0) * (height - 6.0);
        (x, y)
    };
    let mut svg = format!(
        "<svg role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"0\" y1=\"{low:.1}\" x2=\"{width}\" y2=\"{low:.1}\" stroke=\"#eaeef2\"/>",
        low = height - 3.0,
    );
    if daily.len() > 1 {
        let points: Vec<String> = daily
            .iter()
            .map(|day| {
                let (x, y) = point(day);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#4f6bed\" stroke-width=\"1.5\"/>",
            points.join(" ")
        );
    }
    for day in daily {
        let (x, y) = point(day);
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"#4f6bed\"><title>{}: {:.1}</title></circle>",
            day.0, day.1
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{CallRow, FailureRow};

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn call(
        call_id: &str,
        agent_id: &str,
        day: &str,
        score: Option<f64>,
        flagged: bool,
    ) -> CallRow {
        CallRow {
            call_id: call_id.to_string(),
            agent_id: agent_id.to_string(),
            call_date: date(day),
            started_at: None,
            duration_ms: Some(10_000),
            language: Some("en".to_string()),
            layout: Some("stereo".to_string()),
            source_sample_rate: Some(8000),
            status: if score.is_some() {
                "scored"
            } else {
                "not_scorable"
            }
            .to_string(),
            status_reason: None,
            decode_notes: None,
            score,
            flagged,
            auto_fail: false,
            n_findings: 0,
            n_segments: 0,
            n_dropped_segments: 0,
            n_low_confidence_segments: 0,
            agent_tone: None,
            metrics: BTreeMap::new(),
            audio_sha256: None,
            model_id: None,
            rules_hash: "abc".to_string(),
            version: "v".to_string(),
            path: String::new(),
        }
    }

    fn finding(
        call_id: &str,
        agent_id: &str,
        day: &str,
        rule_id: &str,
        evidence: &str,
    ) -> FindingRow {
        FindingRow {
            call_id: call_id.to_string(),
            agent_id: agent_id.to_string(),
            call_date: date(day),
            rule_id: rule_id.to_string(),
            category: "forbidden_language".to_string(),
            severity: "major".to_string(),
            points: 20.0,
            speaker: "agent".to_string(),
            start_ms: Some(1000),
            end_ms: Some(3000),
            evidence: evidence.to_string(),
            description: String::new(),
            counted: true,
        }
    }

    fn sample_tables() -> Tables {
        Tables {
            calls: vec![
                call("c1", "A1", "2024-03-14", Some(90.0), false),
                call("c2", "A1", "2024-03-15", Some(60.0), true),
                call("c3", "<b>A2</b>", "2024-03-15", Some(80.0), false),
                call("c4", "A2", "2024-03-15", None, false),
            ],
            segments: vec![SegmentRow {
                call_id: "c2".to_string(),
                agent_id: "A1".to_string(),
                call_date: date("2024-03-15"),
                segment_index: 0,
                speaker: "agent".to_string(),
                channel: 0,
                start_ms: 900,
                end_ms: 2500,
                text: "<script>alert('x')</script> you are an idiot".to_string(),
                confidence: 0.9,
                quality: "ok".to_string(),
                sentiment: None,
                arousal: None,
            }],
            findings: vec![finding(
                "c2",
                "A1",
                "2024-03-15",
                "forbidden.insult",
                "«idiot» in <script>alert('x')</script>",
            )],
            agents: Vec::new(),
            failures: vec![FailureRow {
                call_id: "bad".to_string(),
                agent_id: "A1".to_string(),
                call_date: date("2024-03-15"),
                path: "bad.wav".to_string(),
                stage: "decode".to_string(),
                error: "empty".to_string(),
                message: "bad.wav is <empty>".to_string(),
            }],
        }
    }

    #[test]
    fn transcript_text_is_escaped() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let html = render(
            &sample_tables(),
            &[],
            Period::ALL,
            &ReportSettings::default(),
        );
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the sorting script"
        );
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; you are an idiot"));
        assert!(html.contains("&lt;b&gt;A2&lt;/b&gt;"));
        assert!(html.contains("bad.wav is &lt;empty&gt;"));
        assert!(!html.contains("http://") || !html.contains("src=\"http"));
        assert!(!html.contains(" src="), "nothing loaded from anywhere");
    }

    /// A call that could not be scored charges no one: its "missing greeting" is not the
    /// agent's most failed category, nor counted among the findings, as in the `agents` table.
    #[test]
    fn findings_of_calls_that_could_not_be_scored_are_not_counted() {
        let mut tables = sample_tables();
        let mut missing_greeting = finding("c4", "A2", "2024-03-15", "greeting.hello", "not said");
        missing_greeting.category = "greeting".to_string();
        missing_greeting.severity = "minor".to_string();
        missing_greeting.counted = false;
        tables.findings.push(missing_greeting);
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert!(!html.contains("greeting (1)"), "{html}");
        assert!(
            html.contains("<title>greeting: 0 failures</title>"),
            "{html}"
        );
        assert!(html.contains("forbidden language (1)"), "{html}");
        // Shown apart, as not counted, with the reason.
        assert!(
            html.contains("2 findings in this period: 1 counted (1 failure), 1 not counted."),
            "{html}"
        );
        assert!(
            html.contains(
                "Findings that did not lower a score (not counted above): 1 on calls that could not be scored; by category: greeting 1."
            ),
            "{html}"
        );
        assert!(html.contains(
            "<tr><td>greeting.hello</td><td>greeting</td><td>minor</td><td class=\"num\">0</td><td class=\"num\">1</td><td class=\"num\">1</td>"
        ));
        // Scored, the same finding counts.
        tables.calls[3].status = "scored".to_string();
        tables.calls[3].score = Some(80.0);
        tables.findings[1].counted = true;
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert!(html.contains("greeting (1)"), "{html}");
        assert!(
            html.contains("<title>greeting: 1 failure</title>"),
            "{html}"
        );
    }

    #[test]
    fn summary_agents_and_trend() {
        let html = render(
            &sample_tables(),
            &[],
            Period::ALL,
            &ReportSettings::default(),
        );
        assert!(html.contains("Calls of 2024-03-14 – 2024-03-15"));
        // A1: 60 on the latest day against 90 before.
        assert!(html.contains("▼ -30.0"), "{html}");
        // Worst first: A1 (mean 75) before A2 (80).
        let a1 = html.find("<tr><td>A1</td>").unwrap();
        let a2 = html.find("<tr><td>&lt;b&gt;A2&lt;/b&gt;</td>").unwrap();
        assert!(a1 < a2);
        // The single day keeps earlier dates for the trend but counts only its own calls.
        let day = render(
            &sample_tables(),
            &[],
            Period::day(date("2024-03-15")),
            &ReportSettings::default(),
        );
        assert!(day.contains("Calls<b>3</b>"), "{day}");
        assert!(day.contains("▼ -30.0"));
        assert!(day.contains("Failed inputs<b class=\"flag\">1</b>"));
        let before = render(
            &sample_tables(),
            &[],
            Period::day(date("2024-03-14")),
            &ReportSettings::default(),
        );
        assert!(before.contains("Calls<b>1</b>"));
        assert!(!before.contains("forbidden.insult"));
        assert!(!html.contains("repaired recording"));
    }

    #[test]
    fn calls_from_repaired_recordings_are_listed_with_the_repair() {
        let mut tables = sample_tables();
        tables.calls[1].decode_notes =
            Some("the data chunk announces 96000 bytes but the file holds 41000".to_string());
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert!(
            html.contains("1 call analysed from a repaired recording"),
            "{html}"
        );
        assert!(html.contains(
            "<tr><td>c2</td><td>A1</td><td>2024-03-15</td><td>the data chunk announces 96000 bytes"
        ));
    }

    #[test]
    fn precision_per_rule_counts_the_latest_verdict() {
        let audit = |sample: &str, verdict: Option<&str>, seconds: i64| AuditRow {
            sample_id: sample.to_string(),
            item_id: "f1".to_string(),
            kind: "finding".to_string(),
            call_id: "c2".to_string(),
            agent_id: "A1".to_string(),
            call_date: date("2024-03-15"),
            rule_id: Some("forbidden.insult".to_string()),
            category: Some("forbidden_language".to_string()),
            severity: Some("major".to_string()),
            start_ms: Some(1000),
            end_ms: Some(3000),
            verdict: verdict.map(str::to_string),
            note: None,
            imported_at: chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap(),
        };
        let mut other = audit("s1", Some("correct"), 0);
        other.item_id = "f2".to_string();
        let audits = vec![
            audit("s1", Some("incorrect"), 0),
            audit("s2", Some("correct"), 10),
            other,
            audit("s3", None, 20),
        ];
        let (by_rule, control, n_samples) = latest_verdicts(&audits);
        let insult = by_rule["forbidden.insult"];
        assert_eq!((insult.correct, insult.incorrect), (2, 0));
        assert_eq!(control.judged(), 0);
        assert_eq!(n_samples, 3);
        let html = render(
            &sample_tables(),
            &audits,
            Period::ALL,
            &ReportSettings::default(),
        );
        assert!(html.contains("100 %"), "{html}");
        let (low, high) = Verdicts {
            correct: 8,
            incorrect: 2,
        }
        .interval()
        .unwrap();
        assert!(
            (low - 0.49).abs() < 0.01 && (high - 0.94).abs() < 0.01,
            "{low} {high}"
        );
    }

    /// The cells of an agent's row in the agents table, as text.
    fn agent_cells(html: &str, agent: &str) -> Vec<String> {
        let start = html
            .find(&format!("<tr><td>{agent}</td>"))
            .unwrap_or_else(|| panic!("no row of {agent}"));
        let row = &html[start..start + html[start..].find("</tr>").unwrap()];
        row.split("<td")
            .skip(1)
            .map(|cell| {
                let mut text = String::new();
                let mut in_tag = true;
                for character in cell.chars() {
                    match character {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        _ if !in_tag => text.push(character),
                        _ => {}
                    }
                }
                text
            })
            .collect()
    }

    use crate::analyse::tests::{Line, analysed_day};

    /// Every number of the report that the `agents` and `findings` tables also hold is the
    /// same number: per agent and for the team, calls, scorable, flagged, mean, median, P10,
    /// pass rate and failures by category; failed inputs are counted apart, per agent too.
    #[test]
    fn numbers_match_the_agents_table() {
        let polite: &[Line<'_>] = &[
            (
                0,
                100,
                4000,
                "Good morning, Union Bank, Maria speaking, this call is recorded.",
            ),
            (1, 4100, 6000, "Hi, I have a question about my card."),
            (0, 6100, 9000, "Of course, thank you, I can help with that."),
            (1, 9100, 10000, "Thanks."),
            (0, 10100, 12000, "Thank you for calling, goodbye."),
        ];
        let rude: &[Line<'_>] = &[
            (0, 100, 2600, "Union Bank, how can I help?"),
            (1, 2700, 5000, "My card is still blocked."),
            (0, 5100, 8000, "You idiot, I told you it takes five days."),
            (1, 8100, 9000, "Excuse me?"),
            (0, 9100, 12000, "What a bunch of idiots."),
        ];
        let short: &[Line<'_>] = &[(0, 100, 1500, "Hello?")];
        let tables = analysed_day(&[
            ("a1", "ana", Some(polite)),
            ("a2", "ana", Some(rude)),
            ("a3", "ana", Some(short)),
            ("a4", "ana", None),
            ("b1", "ben", Some(rude)),
            ("b2", "ben", None),
            ("b3", "ben", None),
            ("c1", "cy", None),
        ]);
        assert_eq!(tables.agents.len(), 2, "cy has no processed call");
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        let failures_of_agent = |agent: &str| {
            tables
                .failures
                .iter()
                .filter(|failure| failure.agent_id == agent)
                .count()
        };
        for row in &tables.agents {
            let cells = agent_cells(&html, &row.agent_id);
            assert_eq!(
                cells[1..9],
                [
                    row.calls.to_string(),
                    row.scorable.to_string(),
                    failures_of_agent(&row.agent_id).to_string(),
                    format_score(row.mean_score),
                    format_score(row.median_score),
                    format_score(row.p10_score),
                    format_percent(row.pass_rate),
                    row.flagged.to_string(),
                ],
                "{}: {cells:?}",
                row.agent_id
            );
        }
        // ana: 3 calls (the failed input apart), the insults twice in one call one failure.
        assert_eq!(agent_cells(&html, "ana")[1..4], ["3", "2", "1"]);
        // An agent with failed inputs alone still shows.
        assert_eq!(agent_cells(&html, "cy")[1..4], ["0", "0", "1"]);
        let sum = |value: fn(&crate::dataset::AgentRow) -> u32| -> u32 {
            tables.agents.iter().map(value).sum()
        };
        assert!(
            html.contains(&format!("Calls<b>{}</b>", sum(|row| row.calls))),
            "{html}"
        );
        assert!(html.contains(&format!("Scorable<b>{}</b>", sum(|row| row.scorable))));
        assert!(html.contains(&format!(
            "Flagged<b class=\"flag\">{}</b>",
            sum(|row| row.flagged)
        )));
        assert!(html.contains(&format!(
            "Failed inputs<b class=\"flag\">{}</b>",
            tables.failures.len()
        )));
        // Failures by category: the sums of `failures_<category>`.
        for category in CATEGORIES {
            let count: u32 = tables
                .agents
                .iter()
                .map(|row| {
                    row.failures_by_category
                        .get(*category)
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            let title = format!(
                "<title>{category}: {count} failure{}</title>",
                if count == 1 { "" } else { "s" }
            );
            assert!(html.contains(&title), "{title}");
        }
        let n_counted = tables.findings.iter().filter(|row| row.counted).count();
        assert!(html.contains(&format!(
            "{} findings in this period: {n_counted} counted",
            tables.findings.len()
        )));
        // The insults of a call are two counted findings and one failure.
        let n_failures: u32 = tables
            .agents
            .iter()
            .flat_map(|row| row.failures_by_category.values())
            .sum();
        assert!(n_failures < n_counted as u32);
        assert!(html.contains(&format!("({n_failures} failures)")), "{html}");
    }

    #[test]
    fn most_failed_ranks_by_count_then_severity_and_never_hides_a_critical() {
        let categories = BTreeMap::from([
            ("closing", (2, "minor")),
            ("courtesy", (2, "minor")),
            ("disclosure", (2, "minor")),
            ("greeting", (2, "minor")),
            ("personal_data", (1, "critical")),
        ]);
        assert_eq!(
            most_failed(&categories),
            "closing, courtesy, disclosure, greeting (2 each) · critical: personal data (1)"
        );
        let mut categories = categories;
        categories.insert("forbidden_language", (2, "major"));
        assert_eq!(
            most_failed(&categories),
            "forbidden language (2) · critical: personal data (1)"
        );
        categories.insert("personal_data", (2, "critical"));
        assert_eq!(most_failed(&categories), "personal data (2, critical)");
        categories.insert("closing", (2, "critical"));
        assert_eq!(
            most_failed(&categories),
            "closing, personal data (2 each, critical)"
        );
        assert_eq!(most_failed(&BTreeMap::new()), "");

        // In the report, counted from failures: A1 failed a minor rule on two calls and a
        // critical one once.
        let mut tables = sample_tables();
        tables
            .calls
            .push(call("c5", "A1", "2024-03-15", Some(90.0), false));
        tables
            .calls
            .push(call("c6", "A1", "2024-03-15", Some(0.0), true));
        tables.findings.clear();
        for call_id in ["c2", "c5"] {
            let mut closing = finding(call_id, "A1", "2024-03-15", "closing.goodbye", "");
            closing.category = "closing".to_string();
            closing.severity = "minor".to_string();
            tables.findings.push(closing);
        }
        let mut card = finding("c6", "A1", "2024-03-15", "personal_data.card_read_out", "");
        card.category = "personal_data".to_string();
        card.severity = "critical".to_string();
        tables.findings.push(card);
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert_eq!(
            agent_cells(&html, "A1")[9],
            "closing (2) · critical: personal data (1)"
        );
    }

    /// The day's mean names its denominator: the scored calls, beside the day's calls and
    /// failed inputs.
    #[test]
    fn the_mean_per_call_date_names_its_scored_calls() {
        let html = render(
            &sample_tables(),
            &[],
            Period::ALL,
            &ReportSettings::default(),
        );
        assert!(
            html.contains(
                "<title>2024-03-15: mean 70.0 over 2 scored calls (3 calls; 1 failed input)</title>"
            ),
            "{html}"
        );
        assert!(html.contains("<title>2024-03-14: mean 90.0 over 1 scored call (1 call)</title>"));
        assert!(html.contains(">2 of 3 scored</text>"));
    }

    /// A call's start is shown in the dataset's time zone, where its call date is counted.
    #[test]
    fn times_are_shown_in_the_time_zone_of_the_call_dates() {
        let mut tables = sample_tables();
        // 00:30 in Berlin on the 15th, 23:30 UTC on the 14th.
        tables.calls[1].started_at = chrono::DateTime::from_timestamp(1_710_459_000, 0);
        let berlin = ReportSettings {
            timezone: chrono_tz::Europe::Berlin,
            flag_threshold: None,
        };
        let html = render(&tables, &[], Period::ALL, &berlin);
        assert!(
            html.contains("· agent A1 · 2024-03-15 00:30 Europe/Berlin ·"),
            "{html}"
        );
        assert!(!html.contains("UTC"), "{html}");
        assert!(html.contains("times in Europe/Berlin"));
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert!(
            html.contains("· agent A1 · 2024-03-14 23:30 UTC ·"),
            "{html}"
        );

        // The dataset's remembered zone.
        let out = tempfile::tempdir().unwrap();
        assert_eq!(ReportSettings::of_dataset(out.path()).timezone, Tz::UTC);
        std::fs::create_dir_all(out.path().join(".callqa")).unwrap();
        std::fs::write(out.path().join(".callqa/timezone"), "Europe/Berlin\n").unwrap();
        assert_eq!(
            ReportSettings::of_dataset(out.path()).timezone,
            chrono_tz::Europe::Berlin
        );
    }

    /// The threshold and "pass" are stated once, in words.
    #[test]
    fn the_flag_threshold_and_pass_rate_are_stated() {
        let html = render(
            &sample_tables(),
            &[],
            Period::ALL,
            &ReportSettings::default(),
        );
        assert!(
            html.contains("scored below 70 (the default of <code>--flag-below</code>"),
            "{html}"
        );
        assert_eq!(
            html.matches("Pass rate is the share of scored calls that were not flagged")
                .count(),
            1
        );
        let given = ReportSettings {
            flag_threshold: Some(62.5),
            ..ReportSettings::default()
        };
        let html = render(&sample_tables(), &[], Period::ALL, &given);
        assert!(html.contains("or scored below 62.5. "), "{html}");
        // A call of 65 not flagged: the run's threshold was not 70.
        let mut tables = sample_tables();
        tables
            .calls
            .push(call("c5", "A1", "2024-03-15", Some(65.0), false));
        let html = render(&tables, &[], Period::ALL, &ReportSettings::default());
        assert!(
            html.contains("not the default 70: the calls' flags put it at or below 65)"),
            "{html}"
        );
        // Flagged at 75 without a major finding: above 75.
        let mut tables = sample_tables();
        tables
            .calls
            .push(call("c5", "A1", "2024-03-15", Some(75.0), true));
        assert_eq!(
            inferred_threshold(&tables.calls.iter().collect::<Vec<_>>(), &[]),
            Inferred::Between {
                above: Some(75.0),
                at_most: Some(80.0)
            }
        );
    }
}
