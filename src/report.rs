//! `report.html`: one self-contained page for managers, written by every run and by
//! `callqa report`.
//!
//! Promises: no network access (no scripts, fonts or images from elsewhere; charts are inline
//! SVG); every piece of transcript or evidence text is HTML-escaped, so a transcript holding
//! `<script>` shows as text; the page reads on a laptop screen and prints on A4.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::dataset::{CATEGORIES, Tables};

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

fn format_time(ms: Option<u64>) -> String {
    ms.map_or_else(String::new, |ms| {
        format!("{}:{:04.1}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
    })
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.cards{display:flex;flex-wrap:wrap;gap:1rem}.card{border:1px solid #d0d7de;border-radius:6px;padding:.7rem 1rem;min-width:8rem}\
.card b{display:block;font-size:1.5rem}.flag{color:#b42318;font-weight:600}.muted{color:#57606a}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// Renders the report for the whole dataset of this shard.
pub fn render(tables: &Tables, rules_hash: &str) -> String {
    let mut html = String::new();
    let n_calls = tables.calls.len();
    let scored: Vec<f64> = tables.calls.iter().filter_map(|call| call.score).collect();
    let n_scorable = scored.len();
    let mean_score = (!scored.is_empty()).then(|| scored.iter().sum::<f64>() / scored.len() as f64);
    let n_flagged = tables.calls.iter().filter(|call| call.flagged).count();
    let n_failed = tables.failures.len();
    let first_date = tables.calls.iter().map(|call| call.call_date).min();
    let last_date = tables.calls.iter().map(|call| call.call_date).max();
    let period = match (first_date, last_date) {
        (Some(first), Some(last)) if first == last => first.to_string(),
        (Some(first), Some(last)) => format!("{first} – {last}"),
        _ => "no calls".to_string(),
    };

    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>callqa report · {period}</title><style>{STYLE}</style></head><body>\
         <h1>Call quality report</h1><p class=\"muted\">Calls of {period} · rules {rules} · callqa {version}</p>",
        period = escape_html(&period),
        rules = escape_html(&rules_hash.chars().take(12).collect::<String>()),
        version = crate::VERSION,
    );
    let _ = write!(
        html,
        "<h2>Team summary</h2><div class=\"cards\">\
         <div class=\"card\">Calls<b>{n_calls}</b></div>\
         <div class=\"card\">Scorable<b>{n_scorable}</b></div>\
         <div class=\"card\">Mean score<b>{}</b></div>\
         <div class=\"card\">Flagged<b>{n_flagged}</b></div>\
         <div class=\"card\">Failed inputs<b>{n_failed}</b></div></div>",
        format_score(mean_score)
    );

    html.push_str("<h2>Score distribution</h2>");
    html.push_str(&score_histogram_svg(&scored));

    // Per agent over all dates in the dataset.
    #[derive(Default)]
    struct AgentTotals {
        calls: u32,
        scorable: u32,
        score_sum: f64,
        flagged: u32,
        by_date: BTreeMap<chrono::NaiveDate, (f64, u32)>,
    }
    let mut agents: BTreeMap<&str, AgentTotals> = BTreeMap::new();
    for row in &tables.agents {
        let totals = agents.entry(row.agent_id.as_str()).or_default();
        totals.calls += row.calls;
        totals.scorable += row.scorable;
        totals.flagged += row.flagged;
        if let Some(mean) = row.mean_score {
            totals.score_sum += mean * f64::from(row.scorable);
            totals.by_date.insert(row.call_date, (mean, row.scorable));
        }
    }
    let mut agent_rows: Vec<(&str, &AgentTotals, Option<f64>)> = agents
        .iter()
        .map(|(agent, totals)| {
            let mean = (totals.scorable > 0).then(|| totals.score_sum / f64::from(totals.scorable));
            (*agent, totals, mean)
        })
        .collect();
    agent_rows.sort_by(|left, right| {
        left.2
            .unwrap_or(f64::INFINITY)
            .total_cmp(&right.2.unwrap_or(f64::INFINITY))
            .then(left.0.cmp(right.0))
    });
    html.push_str(
        "<h2>Agents</h2><p class=\"muted\">Lowest mean score first. Trend: mean of the latest call date against the one before.</p>\
         <table><thead><tr><th>Agent</th><th class=\"num\">Calls</th><th class=\"num\">Scorable</th>\
         <th class=\"num\">Mean score</th><th class=\"num\">Flagged</th><th>Trend</th></tr></thead><tbody>",
    );
    for (agent, totals, mean) in &agent_rows {
        let dates: Vec<&(f64, u32)> = totals.by_date.values().collect();
        let trend = match dates.as_slice() {
            [.., before, latest] => {
                let change = latest.0 - before.0;
                format!("{} {change:+.1}", if change >= 0.0 { "▲" } else { "▼" })
            }
            _ => "–".to_string(),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape_html(agent),
            totals.calls,
            totals.scorable,
            format_score(*mean),
            totals.flagged,
            trend
        );
    }
    html.push_str("</tbody></table>");

    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for finding in &tables.findings {
        *by_category.entry(finding.category.as_str()).or_default() += 1;
        *by_rule
            .entry((finding.rule_id.as_str(), finding.category.as_str()))
            .or_default() += 1;
    }
    html.push_str("<h2>Findings by category</h2>");
    let category_counts: Vec<(String, usize)> = CATEGORIES
        .iter()
        .map(|category| {
            (
                category.to_string(),
                by_category.get(category).copied().unwrap_or(0),
            )
        })
        .collect();
    html.push_str(&bar_chart_svg(&category_counts));
    html.push_str("<h2>Findings by rule</h2><table><thead><tr><th>Rule</th><th>Category</th><th class=\"num\">Findings</th></tr></thead><tbody>");
    let mut rules: Vec<_> = by_rule.into_iter().collect();
    rules.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
    for ((rule_id, category), count) in rules {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{count}</td></tr>",
            escape_html(rule_id),
            escape_html(category)
        );
    }
    html.push_str("</tbody></table>");

    html.push_str("<h2>Worst calls</h2><p class=\"muted\">The ten lowest-scoring calls with their evidence (personal data redacted).</p>");
    let mut worst: Vec<_> = tables
        .calls
        .iter()
        .filter(|call| call.score.is_some())
        .collect();
    worst.sort_by(|left, right| {
        left.score
            .unwrap_or(0.0)
            .total_cmp(&right.score.unwrap_or(0.0))
            .then(left.call_id.cmp(&right.call_id))
    });
    for call in worst.iter().take(10) {
        let _ = write!(
            html,
            "<h3>{} · agent {} · score {}{}</h3><table><thead><tr><th>Rule</th><th>Severity</th><th>Speaker</th><th>Time</th><th>Evidence</th></tr></thead><tbody>",
            escape_html(&call.call_id),
            escape_html(&call.agent_id),
            format_score(call.score),
            if call.flagged {
                " <span class=\"flag\">flagged</span>"
            } else {
                ""
            }
        );
        for finding in tables
            .findings
            .iter()
            .filter(|finding| finding.call_id == call.call_id)
        {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td></tr>",
                escape_html(&finding.rule_id),
                escape_html(&finding.severity),
                escape_html(&finding.speaker),
                format_time(finding.start_ms),
                format_time(finding.end_ms),
                escape_html(&finding.evidence)
            );
        }
        html.push_str("</tbody></table>");
    }

    if !tables.failures.is_empty() {
        html.push_str("<h2>Inputs that could not be processed</h2><table><thead><tr><th>Call</th><th>Stage</th><th>Error</th><th>Message</th></tr></thead><tbody>");
        for failure in &tables.failures {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&failure.call_id),
                escape_html(&failure.stage),
                escape_html(&failure.error),
                escape_html(&failure.message)
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</body></html>\n");
    html
}

/// Histogram of call scores in ten bins of ten points, as inline SVG.
fn score_histogram_svg(scores: &[f64]) -> String {
    let mut bins = [0usize; 10];
    for score in scores {
        let bin = ((score / 10.0).floor() as usize).min(9);
        bins[bin] += 1;
    }
    let counts: Vec<(String, usize)> = bins
        .iter()
        .enumerate()
        .map(|(bin, count)| (format!("{}–{}", bin * 10, bin * 10 + 10), *count))
        .collect();
    bar_chart_svg(&counts)
}

/// A labelled vertical bar chart as inline SVG (no script, prints as is).
fn bar_chart_svg(bars: &[(String, usize)]) -> String {
    let width = 720.0;
    let height = 220.0;
    let bottom = 170.0;
    let max = bars
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = width / bars.len().max(1) as f64;
    let mut svg = format!(
        "<svg role=\"img\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width:{width}px\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (index, (label, count)) in bars.iter().enumerate() {
        let bar_height = (*count as f64 / max) * 140.0;
        let x = index as f64 * slot + slot * 0.15;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar_height:.1}\" fill=\"#4f6bed\"><title>{}: {count}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{count}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            bottom - bar_height,
            slot * 0.7,
            escape_html(label),
            x + slot * 0.35,
            bottom - bar_height - 4.0,
            x + slot * 0.35,
            bottom + 16.0,
            escape_html(&label.replace('_', " "))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_text_is_escaped() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
