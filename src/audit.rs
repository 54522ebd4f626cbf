//! Audits: `callqa sample` draws a reproducible sample of findings for auditors, with evidence
//! and audio clips; `callqa audit import` reads their verdicts back into the `audits` table.
//!
//! Sampling:
//! - The population is every finding of a flagged call in the dataset (all shards, optionally
//!   a date range); `include_unflagged` widens it to the findings of every analysed call. A
//!   share of the sample can be *control calls*: unflagged scored calls, which tell how much
//!   the rules miss.
//! - Stratified by agent (and optionally by category or severity within an agent): every
//!   stratum with findings gets one item when the size allows, the rest is shared in
//!   proportion to the strata's sizes (largest remainder), and items are drawn at random
//!   within a stratum.
//! - Reproducible: the random numbers come from SplitMix64 (implemented here, no dependency),
//!   seeded from the seed and the stratum's name, over items sorted by a stable key; the same
//!   dataset, seed and options give the same sample on any machine.
//!
//! Clips: per sampled finding, a 16-bit WAV of a few seconds around it, cut from the original
//! recording (checked against the audio hash the run recorded), with the recording's channels
//! (stereo calls: one speaker per channel). Personal data (cards, IBANs, phone numbers,
//! e-mails, secrets, found in the raw transcript as the redaction finds them) is replaced by a
//! 1 kHz tone, and nothing else is, so that the auditor hears the rest of the utterance, and
//! the other party, to judge the finding by:
//! - *Where in time*: the data's own words, given their times ([`personal_data_bleeps`]):
//!   from the start of the word before the data to the end of the word after it, with
//!   [`WORD_BLEEP_MARGIN_MS`] (400 ms) more on each side, within the utterance. Whisper's word
//!   times are approximate. Measured on the English fixture calls (188 words, Whisper base,
//!   espeak-ng's own word times as the truth): a word's earliest aligned time (whisper.cpp's
//!   token start or the DTW time, whichever is earlier) came up to 605 ms after the word
//!   began (p95 314 ms) and its latest up to 451 ms before it ended, so a margin around the
//!   data's own words would need about 700 ms; the neighbouring words' times never came more
//!   than 88 ms inside the data. Bounded by the neighbours, 250 ms more would have left at
//!   least 160 ms to spare on every word; 400 ms leaves at least 310 ms, room for real calls
//!   (noise, overlapping speech), whose alignment is likely worse than that of clean
//!   synthetic speech. The auditor loses about 0.8 s of speech on each side of the data
//!   (median), and hears the rest of the utterance.
//!   When word times cannot be trusted (none, not in order, outside the utterance, not
//!   covering every letter and digit of the data, or digits aligned faster than anyone reads
//!   them) the whole utterance is bleeped, with [`UTTERANCE_BLEEP_MARGIN_MS`] (utterance
//!   edges come from voice activity and may miss a syllable's onset or tail). When in doubt,
//!   more is bleeped, never less. The word times are Whisper's, kept in the stored transcript
//!   ([`crate::types::Word`], [`crate::store::Store::load_segment_words`]); a transcript
//!   cached before they were kept, and an utterance whose text callqa changed (a loop cut), has
//!   none and is bleeped whole.
//! - *On which channel*: the channel of the utterance's speaker only (a mono call has one).
//!   A recording whose channels do not match the transcript's is bleeped on every channel;
//!   so is another channel that carries an echo of the data (line or handset echo: its level
//!   envelope follows the speaker's, see [`ECHO_CORRELATION`]). A player that mixes a clip
//!   down hears the tone over the data: the data is on the bleeped channel only, the other
//!   holds the other party (or an echo, bleeped too).
//!
//! The sheet's `bleeped` column lists each bleeped interval in call time, with the speaker
//! (or channel) and "(whole utterance)" where the word times could not be used.
//!
//! Sample folders go to `OUT/audit-samples/<id>/` (not under `OUT/audits/`, the Parquet
//! table, whose readers take every file under it for a part of the table).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use crate::dataset::{
    AuditRow, CallRow, DatasetError, FindingRow, read_audits, read_calls, write_audits,
};
use crate::decode::{DecodeOptions, TARGET_SAMPLE_RATE, probe_file, stream_file_channel};
use crate::report::{Period, escape_html, format_time};
use crate::store::{Outcome, Store, StoreError, file_sha256, sha256_hex, write_atomically};

/// Audio kept on each side of a finding in its clip.
pub const CLIP_MARGIN_MS: u64 = 2_000;
/// Longest clip of a finding (a long silence is cut after this much).
pub const MAX_CLIP_MS: u64 = 60_000;
/// Longest clip of a control call (from its start).
pub const MAX_CONTROL_CLIP_MS: u64 = 600_000;
/// Frequency of the bleep over personal data.
pub const BLEEP_HZ: f64 = 1_000.0;
/// Bleep level (linear, about -12 dBFS): clearly audible, not painful.
const BLEEP_AMPLITUDE: f32 = 0.25;
/// Margin beyond the words on either side of personal data placed by word times: the
/// neighbouring words' aligned times came at most 88 ms inside the data on the fixture calls
/// (see the module docs), and 400 ms leaves room for real calls' worse alignment.
pub const WORD_BLEEP_MARGIN_MS: u64 = 400;
/// Margin on each side of an utterance bleeped whole (no usable word times): utterance times
/// come from voice activity and can miss a syllable's onset or tail.
pub const UTTERANCE_BLEEP_MARGIN_MS: u64 = 250;
/// The least time a spoken digit takes (a fast reader says about four a second): data whose
/// aligned words give its digits less time than this each is misaligned, and the whole
/// utterance is bleeped instead.
pub const MIN_MS_PER_DIGIT: u64 = 120;
/// Another channel whose 10 ms level envelope correlates this much (Pearson, at a lag of up to
/// [`ECHO_MAX_LAG_MS`]) with the speaker's over the bleep carries an echo of the data and is
/// bleeped too. An echo 30 dB down over line noise correlates at 1.0; independent speech
/// at up to 0.4 (measured on syllable-like bursts over 4 s), line noise at 0.1.
pub const ECHO_CORRELATION: f64 = 0.5;
/// The longest echo delay looked for.
pub const ECHO_MAX_LAG_MS: u64 = 400;
/// A channel quieter than this (RMS, about -70 dBFS) over the bleep holds nothing audible.
const ECHO_FLOOR: f64 = 3e-4;
/// Level envelope frame of the echo check.
const ECHO_FRAME_MS: u64 = 10;
/// The bleep fades in and out over this long, so it does not click.
const BLEEP_RAMP_MS: u64 = 5;

pub const SHEET_CSV: &str = "sheet.csv";
pub const SHEET_HTML: &str = "sheet.html";

/// How strata are formed within each agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StratifyBy {
    Category,
    Severity,
}

impl StratifyBy {
    pub fn parse(text: &str) -> Option<StratifyBy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "category" => Some(StratifyBy::Category),
            "severity" => Some(StratifyBy::Severity),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            StratifyBy::Category => "category",
            StratifyBy::Severity => "severity",
        }
    }
}

/// A validated `callqa sample` configuration.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// Items in the sample (findings and control calls together).
    pub size: usize,
    pub seed: u64,
    /// Strata within each agent; `None` stratifies by agent only.
    pub by: Option<StratifyBy>,
    /// Share of the sample drawn from unflagged calls as controls, 0..=1: round(size × share)
    /// control calls (fewer when there are fewer unflagged calls).
    pub control_share: f64,
    /// Sample findings of unflagged calls too (default: flagged calls only).
    pub include_unflagged: bool,
    /// Call dates to sample from.
    pub period: Period,
    /// Where to write the sample; default `OUT/audit-samples/<sample id>`.
    pub audit_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Sheet { path: PathBuf, message: String },
}

/// What `callqa sample` drew and wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    pub sample_id: String,
    pub folder: PathBuf,
    pub seed: u64,
    pub rng: &'static str,
    pub stratified_by: String,
    pub include_unflagged: bool,
    pub control_share: f64,
    pub n_population_findings: usize,
    pub n_population_controls: usize,
    pub n_findings: usize,
    pub n_controls: usize,
    /// (stratum, items in the population, items drawn), in stratum order.
    pub strata: Vec<(String, usize, usize)>,
    /// Agents with findings in the population but none in the sample (size too small).
    pub agents_not_represented: Vec<String>,
    pub n_clips: usize,
    /// Items whose clip could not be cut: (call id, reason).
    pub clip_problems: Vec<(String, String)>,
    pub version: &'static str,
    pub created_at: chrono::DateTime<Utc>,
    /// What the sheet holds, item by item: `audit import` checks every row against it.
    pub items: Vec<SampleItem>,
}

/// One item of a sample as `sample.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SampleItem {
    pub item_id: String,
    /// `finding` or `control`.
    pub kind: String,
    pub call_id: String,
    /// The finding's rule (empty for a control).
    pub rule_id: String,
}

/// The part of `sample.json` that `audit import` reads. Samples drawn before `items` was
/// written have none, and their rows are checked against the dataset only.
#[derive(Debug, serde::Deserialize)]
struct SampleIndex {
    sample_id: String,
    #[serde(default)]
    items: Option<Vec<SampleItem>>,
}

/// One row of the audit sheet (CSV columns in this order; the auditor fills `verdict` and
/// may write a `note`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SheetRow {
    pub sample_id: String,
    pub row: usize,
    /// `finding` or `control`.
    pub kind: String,
    pub item_id: String,
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub rule_id: String,
    pub category: String,
    pub severity: String,
    pub speaker: String,
    /// Call time `m:ss.s`.
    pub start: String,
    pub end: String,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Redacted, as in the `findings` table.
    pub evidence: String,
    pub description: String,
    /// Path of the clip relative to the sheet; empty when it could not be cut.
    pub clip: String,
    /// The clip's span in call time.
    pub clip_start_ms: Option<u64>,
    pub clip_end_ms: Option<u64>,
    /// Spans of the clip that were bleeped (personal data), in call time (`m:ss.s–m:ss.s`),
    /// each with whose channel it is and "(whole utterance)" when not placed by word times;
    /// `; ` between them.
    pub bleeped: String,
    pub verdict: String,
    pub note: String,
}

// ---------------------------------------------------------------------------------------------
// Random numbers

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence everywhere.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// A stream for one named part of the draw: the same seed and name give the same stream.
    pub fn for_name(seed: u64, name: &str) -> SplitMix64 {
        let mut stream = SplitMix64(seed ^ fnv1a(name.as_bytes()));
        stream.next_u64();
        stream
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (rejection sampling, no modulo bias). `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let value = self.next_u64();
            if value < limit {
                return (value % n) as usize;
            }
        }
    }

    /// Moves a uniformly random choice of `k` items to the front (partial Fisher–Yates).
    pub fn choose_front<T>(&mut self, items: &mut [T], k: usize) {
        for index in 0..k.min(items.len()) {
            let pick = index + self.below(items.len() - index);
            items.swap(index, pick);
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Shares `total` items among strata of the given sizes: every non-empty stratum gets one
/// when `total` allows (else a random choice of strata gets one each), the rest goes in
/// proportion to what each stratum has left (largest remainder, ties to the earlier stratum).
pub fn allocate(sizes: &[usize], total: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut shares = vec![0; sizes.len()];
    let total = total.min(sizes.iter().sum());
    let mut non_empty: Vec<usize> = (0..sizes.len()).filter(|&index| sizes[index] > 0).collect();
    if total < non_empty.len() {
        rng.choose_front(&mut non_empty, total);
        for &index in &non_empty[..total] {
            shares[index] = 1;
        }
        return shares;
    }
    for &index in &non_empty {
        shares[index] = 1;
    }
    let remaining = total - non_empty.len();
    let spare: Vec<usize> = sizes
        .iter()
        .zip(&shares)
        .map(|(size, share)| size - share)
        .collect();
    let spare_total: usize = spare.iter().sum();
    if remaining == 0 || spare_total == 0 {
        return shares;
    }
    let mut remainders = Vec::new();
    let mut given = 0;
    for (index, &spare_here) in spare.iter().enumerate() {
        let exact = remaining as u128 * spare_here as u128;
        let floor = (exact / spare_total as u128) as usize;
        shares[index] += floor;
        given += floor;
        remainders.push((exact % spare_total as u128, index));
    }
    remainders.sort_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(&right.1)));
    for (remainder, index) in remainders.into_iter().take(remaining - given) {
        debug_assert!(remainder > 0);
        shares[index] += 1;
    }
    shares
}

// ---------------------------------------------------------------------------------------------
// Sampling

/// A sampleable item: a finding, or a control call (no finding).
struct Item<'a> {
    id: String,
    call: &'a CallRow,
    finding: Option<&'a FindingRow>,
}

/// A stable id of a finding, the same in every sample and after re-runs with the same rules.
/// Prefixed with a letter so spreadsheets keep it as text.
pub fn finding_id(finding: &FindingRow) -> String {
    let key = format!(
        "{}\n{}\n{:?}\n{:?}\n{}",
        finding.call_id, finding.rule_id, finding.start_ms, finding.end_ms, finding.evidence
    );
    format!("f-{}", &sha256_hex(&key)[..16])
}

fn control_id(call_id: &str) -> String {
    format!("c-{}", &sha256_hex(call_id)[..16])
}

/// Draws `total` items stratified by agent and then by `sub_key` within an agent. Returns
/// the chosen items (in population order) and (stratum, population, drawn) per stratum.
fn stratified_draw<'a>(
    items: Vec<Item<'a>>,
    total: usize,
    seed: u64,
    label: &str,
    sub_key: impl Fn(&Item<'a>) -> String,
) -> (Vec<Item<'a>>, Vec<(String, usize, usize)>) {
    let mut by_agent: BTreeMap<String, BTreeMap<String, Vec<Item<'a>>>> = BTreeMap::new();
    for item in items {
        let sub = sub_key(&item);
        by_agent
            .entry(item.call.agent_id.clone())
            .or_default()
            .entry(sub)
            .or_default()
            .push(item);
    }
    let agent_sizes: Vec<usize> = by_agent
        .values()
        .map(|strata| strata.values().map(Vec::len).sum())
        .collect();
    let agent_shares = allocate(
        &agent_sizes,
        total,
        &mut SplitMix64::for_name(seed, &format!("{label}/agents")),
    );
    let mut chosen = Vec::new();
    let mut strata_report = Vec::new();
    for ((agent, strata), agent_share) in by_agent.into_iter().zip(agent_shares) {
        let sizes: Vec<usize> = strata.values().map(Vec::len).collect();
        let shares = allocate(
            &sizes,
            agent_share,
            &mut SplitMix64::for_name(seed, &format!("{label}/{agent}")),
        );
        for ((sub, stratum), share) in strata.into_iter().zip(shares) {
            let name = if sub.is_empty() {
                format!("{label} {agent}")
            } else {
                format!("{label} {agent} / {sub}")
            };
            strata_report.push((name.clone(), stratum.len(), share));
            let mut rng = SplitMix64::for_name(seed, &name);
            let mut order: Vec<usize> = (0..stratum.len()).collect();
            rng.choose_front(&mut order, share);
            let picked: BTreeSet<usize> = order[..share].iter().copied().collect();
            chosen.extend(
                stratum
                    .into_iter()
                    .enumerate()
                    .filter(|(index, _)| picked.contains(index))
                    .map(|(_, item)| item),
            );
        }
    }
    (chosen, strata_report)
}

/// Draws the sample, writes the sheet (CSV and HTML), the clips and `sample.json`.
pub fn draw_sample(out: &Path, options: &SampleOptions) -> Result<SampleSummary, AuditError> {
    if !(0.0..=1.0).contains(&options.control_share) {
        return Err(AuditError::Invalid(format!(
            "--control-share {} is not between 0 and 1",
            options.control_share
        )));
    }
    if options.size == 0 {
        return Err(AuditError::Invalid("--size must be at least 1".to_string()));
    }
    let store = Store::open(out)?;
    let period = options.period;
    let calls = read_calls(out, &|date| period.contains(date))?;
    let findings = crate::dataset::read_findings(out, &|date| period.contains(date))?;
    let calls_by_id: BTreeMap<&str, &CallRow> = calls
        .iter()
        .map(|call| (call.call_id.as_str(), call))
        .collect();

    let mut finding_items: Vec<Item<'_>> = Vec::new();
    let mut seen_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut sorted_findings: Vec<&FindingRow> = findings.iter().collect();
    sorted_findings.sort_by(|left, right| {
        (
            &left.call_id,
            left.start_ms,
            &left.rule_id,
            left.end_ms,
            &left.evidence,
        )
            .cmp(&(
                &right.call_id,
                right.start_ms,
                &right.rule_id,
                right.end_ms,
                &right.evidence,
            ))
    });
    for finding in sorted_findings {
        let Some(call) = calls_by_id.get(finding.call_id.as_str()) else {
            continue;
        };
        if call.status == "failed" || !(call.flagged || options.include_unflagged) {
            continue;
        }
        let mut id = finding_id(finding);
        // The same rule failing twice at the same time with the same evidence: number them.
        let seen = seen_ids.entry(id.clone()).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            id = format!("{id}-{seen}");
        }
        finding_items.push(Item {
            id,
            call,
            finding: Some(finding),
        });
    }
    let control_items: Vec<Item<'_>> = calls
        .iter()
        .filter(|call| call.status == "scored" && !call.flagged)
        .map(|call| Item {
            id: control_id(&call.call_id),
            call,
            finding: None,
        })
        .collect();

    let n_population_findings = finding_items.len();
    let n_population_controls = control_items.len();
    let n_controls = ((options.size as f64 * options.control_share).round() as usize)
        .min(control_items.len())
        .min(options.size);
    let n_findings = options.size - n_controls;
    let agents_in_population: BTreeSet<String> = finding_items
        .iter()
        .map(|item| item.call.agent_id.clone())
        .collect();
    let by = options.by;
    let (mut chosen, mut strata) = stratified_draw(
        finding_items,
        n_findings,
        options.seed,
        "findings",
        |item| match (by, item.finding) {
            (Some(StratifyBy::Category), Some(finding)) => finding.category.clone(),
            (Some(StratifyBy::Severity), Some(finding)) => finding.severity.clone(),
            _ => String::new(),
        },
    );
    let agents_not_represented: Vec<String> = agents_in_population
        .iter()
        .filter(|agent| !chosen.iter().any(|item| &item.call.agent_id == *agent))
        .cloned()
        .collect();
    let n_findings_drawn = chosen.len();
    let (controls, control_strata) =
        stratified_draw(control_items, n_controls, options.seed, "control", |_| {
            String::new()
        });
    let n_controls_drawn = controls.len();
    chosen.extend(controls);
    strata.extend(control_strata);
    if chosen.is_empty() {
        return Err(AuditError::Invalid(format!(
            "nothing to sample: no {} in {}{}\nhint: --include-unflagged samples findings of every call; --control-share draws unflagged calls",
            if options.include_unflagged {
                "findings"
            } else {
                "findings of flagged calls"
            },
            out.display(),
            match (period.from, period.to) {
                (None, None) => String::new(),
                (from, to) => format!(
                    " between {} and {}",
                    from.map_or("the start".to_string(), |date| date.to_string()),
                    to.map_or("the end".to_string(), |date| date.to_string())
                ),
            }
        )));
    }
    // Findings first, then controls; within each by agent, call and time: the order an
    // auditor works through them.
    chosen.sort_by(|left, right| {
        let key = |item: &Item<'_>| {
            (
                item.finding.is_none(),
                item.call.agent_id.clone(),
                item.call.call_id.clone(),
                item.finding.and_then(|finding| finding.start_ms),
                item.id.clone(),
            )
        };
        key(left).cmp(&key(right))
    });

    let created_at = Utc::now();
    // The time and seed name a sample for people; the digest of its items tells apart two
    // samples drawn in the same second (a script drawing one per team), whose verdicts would
    // otherwise replace each other on import.
    let digest = sha256_hex(
        &chosen
            .iter()
            .map(|item| item.id.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let sample_id = format!(
        "{}-seed{}-{}",
        created_at.format("%Y%m%dT%H%M%SZ"),
        options.seed,
        &digest[..8]
    );
    let folder = match &options.audit_dir {
        Some(folder) => folder.clone(),
        None => out.join("audit-samples").join(&sample_id),
    };
    if folder.join(SHEET_CSV).exists() {
        return Err(AuditError::Invalid(format!(
            "{} already holds an audit sheet; choose another --audit-dir (an auditor may be filling it in)",
            folder.display()
        )));
    }

    let mut rows: Vec<SheetRow> = chosen
        .iter()
        .enumerate()
        .map(|(index, item)| sheet_row(&sample_id, index + 1, item))
        .collect();
    let clip_problems = write_clips(&store, &folder, &chosen, &mut rows)?;
    let n_clips = rows.iter().filter(|row| !row.clip.is_empty()).count();

    let items: Vec<SampleItem> = rows
        .iter()
        .map(|row| SampleItem {
            item_id: row.item_id.clone(),
            kind: row.kind.clone(),
            call_id: row.call_id.clone(),
            rule_id: row.rule_id.clone(),
        })
        .collect();
    write_sheet_csv(&folder.join(SHEET_CSV), &rows)?;
    write_atomically(
        &folder.join(SHEET_HTML),
        sheet_html(&sample_id, &rows).as_bytes(),
        false,
    )?;
    let summary = SampleSummary {
        sample_id,
        folder: folder.clone(),
        seed: options.seed,
        rng: "SplitMix64",
        stratified_by: match by {
            Some(by) => format!("agent, {}", by.as_str()),
            None => "agent".to_string(),
        },
        include_unflagged: options.include_unflagged,
        control_share: options.control_share,
        n_population_findings,
        n_population_controls,
        n_findings: n_findings_drawn,
        n_controls: n_controls_drawn,
        strata,
        agents_not_represented,
        n_clips,
        clip_problems,
        version: crate::VERSION,
        created_at,
        items,
    };
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|error| AuditError::Invalid(format!("cannot write sample.json: {error}")))?;
    write_atomically(&folder.join("sample.json"), &json, false)?;
    Ok(summary)
}

fn sheet_row(sample_id: &str, row: usize, item: &Item<'_>) -> SheetRow {
    let call = item.call;
    let (kind, rule_id, category, severity, speaker, start_ms, end_ms, evidence, description) =
        match item.finding {
            Some(finding) => (
                "finding",
                finding.rule_id.clone(),
                finding.category.clone(),
                finding.severity.clone(),
                finding.speaker.clone(),
                finding.start_ms,
                finding.end_ms,
                finding.evidence.clone(),
                finding.description.clone(),
            ),
            None => (
                "control",
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                None,
                None,
                format!(
                    "control call (not flagged, score {}): listen to the whole call; correct = rightly not flagged, incorrect = it should have been flagged",
                    call.score
                        .map_or("–".to_string(), |score| format!("{score:.0}"))
                ),
                String::new(),
            ),
        };
    SheetRow {
        sample_id: sample_id.to_string(),
        row,
        kind: kind.to_string(),
        item_id: item.id.clone(),
        call_id: call.call_id.clone(),
        agent_id: call.agent_id.clone(),
        call_date: call.call_date,
        rule_id,
        category,
        severity,
        speaker,
        start: start_ms.map_or_else(String::new, format_time),
        end: end_ms.map_or_else(String::new, format_time),
        start_ms,
        end_ms,
        evidence,
        description,
        clip: String::new(),
        clip_start_ms: None,
        clip_end_ms: None,
        bleeped: String::new(),
        verdict: String::new(),
        note: String::new(),
    }
}

/// The span of call time a clip covers.
pub fn clip_span(
    start_ms: Option<u64>,
    end_ms: Option<u64>,
    duration_ms: u64,
    control: bool,
) -> (u64, u64) {
    if control {
        return (0, duration_ms.min(MAX_CONTROL_CLIP_MS));
    }
    let (start, end) = match (start_ms, end_ms) {
        (Some(start), Some(end)) => (start, end.max(start)),
        (Some(start), None) => (start, start),
        (None, Some(end)) => (end, end),
        // A finding about the whole call (a speech-rate average …): its beginning.
        (None, None) => return (0, duration_ms.min(MAX_CLIP_MS)),
    };
    let clip_start = start.saturating_sub(CLIP_MARGIN_MS).min(duration_ms);
    let clip_end = (end + CLIP_MARGIN_MS)
        .min(clip_start + MAX_CLIP_MS)
        .min(duration_ms);
    (clip_start, clip_end.max(clip_start))
}

/// A word of an utterance and when it was said (call time), as an aligner gives it: `text` as
/// it appears in the utterance's text (surrounding spaces do not matter), `start_ms` the
/// earliest time the aligner gives for it (from Whisper: the lesser of its first token's start
/// and DTW times), `end_ms` the latest (the greatest of its tokens' times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedWord<'a> {
    pub text: &'a str,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl<'a> From<&'a crate::types::Word> for TimedWord<'a> {
    fn from(word: &'a crate::types::Word) -> TimedWord<'a> {
        TimedWord {
            text: &word.text,
            start_ms: word.start_ms,
            end_ms: word.end_ms,
        }
    }
}

/// The stored words of each segment (from [`crate::store::Store::load_segment_words`]) as
/// [`personal_data_bleeps`] takes them.
pub fn timed_words(words: &[Vec<crate::types::Word>]) -> Vec<Vec<TimedWord<'_>>> {
    words
        .iter()
        .map(|words| words.iter().map(TimedWord::from).collect())
        .collect()
}

/// A stretch of call time to replace by the tone, and on which channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bleep {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Channel indices in the recording (0 = left or mono), sorted: the speaker's own, and any
    /// that carries an echo of it.
    pub channels: Vec<u16>,
    /// Placed by the data's word times; `false`: the whole utterance, for want of them.
    pub by_words: bool,
}

/// What to bleep in a call without word times: the personal data of every utterance (found as
/// the redaction finds it, over each speaker's consecutive utterances), on the speaker's
/// channel, every utterance with personal data bleeped whole; see [`personal_data_bleeps`] for
/// word times, which the sampler uses where the stored transcript has them.
pub fn personal_data_spans(
    transcript: &crate::types::CallTranscript,
    language: &str,
) -> Vec<Bleep> {
    personal_data_bleeps(transcript, language, &[])
}

/// [`personal_data_spans`] with the words of each segment and their times: `words[i]` belongs
/// to `transcript.segments[i]` (a missing or empty list: no word times for that segment).
/// Each piece of data is bleeped from the word before it to the word after it, with
/// [`WORD_BLEEP_MARGIN_MS`] more on each side; an utterance whose word times cannot be trusted
/// is bleeped whole (see [`data_times`]). Overlapping bleeps of a channel are merged.
pub fn personal_data_bleeps(
    transcript: &crate::types::CallTranscript,
    language: &str,
    words: &[Vec<TimedWord<'_>>],
) -> Vec<Bleep> {
    let found = crate::pii::find_in_transcript(transcript, language);
    let mut bleeps = Vec::new();
    for (index, (segment, spans)) in transcript.segments.iter().zip(&found).enumerate() {
        if spans.is_empty() {
            continue;
        }
        let words = words.get(index).map_or(&[][..], Vec::as_slice);
        for (start_ms, end_ms, by_words) in data_times(segment, spans, words) {
            bleeps.push(Bleep {
                start_ms,
                end_ms,
                channels: vec![segment.channel],
                by_words,
            });
        }
    }
    merge_bleeps(bleeps)
}

/// The stretches of call time (start, end, placed by word times) that hide `spans` (personal
/// data in `segment.text`), margins included.
///
/// The data's words are those whose text overlaps it. Its bleep runs from the start of the
/// word before them to the end of the word after them, with [`WORD_BLEEP_MARGIN_MS`] more on
/// each side: a word's aligned start can be over half a second late, but not its
/// predecessor's as well (see the module docs for the measurements). Data that opens or
/// closes the utterance is bleeped from or to the utterance's edge (with
/// [`UTTERANCE_BLEEP_MARGIN_MS`]); no bleep reaches beyond them.
///
/// The whole utterance is returned instead when the word times cannot be trusted: no words;
/// a word whose text is not the next in the utterance's text (letters or digits between
/// words, or words in another order); times that go back, end before they start or leave the
/// utterance; a letter or digit of the data in no word; or digits aligned in less than
/// [`MIN_MS_PER_DIGIT`] each.
pub fn data_times(
    segment: &crate::types::Segment,
    spans: &[crate::pii::PiiSpan],
    words: &[TimedWord<'_>],
) -> Vec<(u64, u64, bool)> {
    let whole = (
        segment.start_ms.saturating_sub(UTTERANCE_BLEEP_MARGIN_MS),
        segment.end_ms.max(segment.start_ms) + UTTERANCE_BLEEP_MARGIN_MS,
    );
    let whole_utterance = vec![(whole.0, whole.1, false)];
    // Words without text time nothing.
    let words: Vec<TimedWord<'_>> = words
        .iter()
        .filter(|word| !word.text.trim().is_empty())
        .copied()
        .collect();
    let Some(ranges) = word_ranges(segment, &words) else {
        return whole_utterance;
    };
    let mut times = Vec::with_capacity(spans.len());
    for span in spans {
        let range = &span.byte_range;
        let Some(data) = segment.text.get(range.clone()) else {
            return whole_utterance;
        };
        let overlapping: Vec<usize> = (0..ranges.len())
            .filter(|&index| ranges[index].start < range.end && ranges[index].end > range.start)
            .collect();
        let (Some(&first), Some(&last)) = (overlapping.first(), overlapping.last()) else {
            return whole_utterance;
        };
        let timed = |at: usize| overlapping.iter().any(|&index| ranges[index].contains(&at));
        let untimed = data
            .char_indices()
            .any(|(offset, character)| character.is_alphanumeric() && !timed(range.start + offset));
        // Times are in order, so the data's words span from the first's start to the last's end.
        let digits = data
            .chars()
            .filter(|character| character.is_numeric())
            .count() as u64;
        let aligned_ms = words[last].end_ms - words[first].start_ms;
        if untimed || aligned_ms < digits * MIN_MS_PER_DIGIT {
            return whole_utterance;
        }
        let start = match first.checked_sub(1) {
            Some(before) => words[before]
                .start_ms
                .saturating_sub(WORD_BLEEP_MARGIN_MS)
                .max(whole.0),
            None => whole.0,
        };
        let end = match words.get(last + 1) {
            Some(after) => (after.end_ms + WORD_BLEEP_MARGIN_MS).min(whole.1),
            None => whole.1,
        };
        times.push((start, end, true));
    }
    times
}

/// Where each word lies in the segment's text (byte ranges, one per word), or `None` when the
/// words are not the text's, in order, or their times are not usable (see [`data_times`]).
fn word_ranges(
    segment: &crate::types::Segment,
    words: &[TimedWord<'_>],
) -> Option<Vec<std::ops::Range<usize>>> {
    if words.is_empty() {
        return None;
    }
    let text = segment.text.as_str();
    let mut ranges = Vec::with_capacity(words.len());
    let mut cursor = 0;
    let mut previous: Option<&TimedWord<'_>> = None;
    for word in words {
        let in_order = previous.is_none_or(|previous| {
            word.start_ms >= previous.start_ms && word.end_ms >= previous.end_ms
        });
        if !in_order
            || word.start_ms > word.end_ms
            || word.start_ms < segment.start_ms
            || word.end_ms > segment.end_ms
        {
            return None;
        }
        previous = Some(word);
        let needle = word.text.trim();
        let found = cursor + text[cursor..].find(needle)?;
        if text[cursor..found].chars().any(char::is_alphanumeric) {
            return None;
        }
        ranges.push(found..found + needle.len());
        cursor = found + needle.len();
    }
    Some(ranges)
}

/// Merges the overlapping or touching bleeps of the same channels; sorted by time.
fn merge_bleeps(mut bleeps: Vec<Bleep>) -> Vec<Bleep> {
    bleeps.sort_by(|left, right| {
        (&left.channels, left.start_ms, left.end_ms).cmp(&(
            &right.channels,
            right.start_ms,
            right.end_ms,
        ))
    });
    let mut merged: Vec<Bleep> = Vec::with_capacity(bleeps.len());
    for bleep in bleeps {
        match merged.last_mut() {
            Some(last) if last.channels == bleep.channels && bleep.start_ms <= last.end_ms => {
                last.end_ms = last.end_ms.max(bleep.end_ms);
                last.by_words &= bleep.by_words;
            }
            _ => merged.push(bleep),
        }
    }
    merged.sort_by(|left, right| {
        (left.start_ms, left.end_ms, &left.channels).cmp(&(
            right.start_ms,
            right.end_ms,
            &right.channels,
        ))
    });
    merged
}

/// Adds to `bleep.channels` every other channel that carries an echo of the data: given the
/// bleep's stretch of every channel (16 kHz), a channel that is not silent and whose level
/// envelope follows that of a bleeped channel (see [`ECHO_CORRELATION`]).
fn add_echo_channels(bleep: &mut Bleep, audio: &[Vec<f32>]) {
    let speakers: Vec<usize> = bleep
        .channels
        .iter()
        .map(|&channel| usize::from(channel))
        .filter(|&channel| channel < audio.len())
        .collect();
    let echoes: Vec<u16> = (0..audio.len())
        .filter(|channel| !speakers.contains(channel))
        .filter(|&channel| {
            speakers
                .iter()
                .any(|&speaker| carries_echo(&audio[speaker], &audio[channel]))
        })
        .map(|channel| channel as u16)
        .collect();
    bleep.channels.extend(echoes);
    bleep.channels.sort_unstable();
    bleep.channels.dedup();
}

/// Whether `other` holds an audible echo of `speech` (same stretch of two channels): its RMS is
/// above [`ECHO_FLOOR`] and its 10 ms level envelope correlates with the speech's at some lag
/// within ±[`ECHO_MAX_LAG_MS`]. A stretch too short to tell counts as an echo when audible.
fn carries_echo(speech: &[f32], other: &[f32]) -> bool {
    let level = |samples: &[f32]| {
        (samples
            .iter()
            .map(|sample| f64::from(*sample).powi(2))
            .sum::<f64>()
            / samples.len().max(1) as f64)
            .sqrt()
    };
    if level(other) <= ECHO_FLOOR {
        return false;
    }
    let frame = (ECHO_FRAME_MS * u64::from(TARGET_SAMPLE_RATE) / 1000) as usize;
    let envelope = |samples: &[f32]| -> Vec<f64> { samples.chunks(frame).map(level).collect() };
    let (speech, other) = (envelope(speech), envelope(other));
    let n = speech.len().min(other.len());
    let max_lag = (ECHO_MAX_LAG_MS / ECHO_FRAME_MS) as usize;
    if n < 4 * max_lag {
        return true;
    }
    let correlation = |first: &[f64], second: &[f64]| {
        let count = first.len() as f64;
        let (mean_first, mean_second) = (
            first.iter().sum::<f64>() / count,
            second.iter().sum::<f64>() / count,
        );
        let (mut product, mut first_power, mut second_power) = (0.0, 0.0, 0.0);
        for (a, b) in first.iter().zip(second) {
            let (a, b) = (a - mean_first, b - mean_second);
            product += a * b;
            first_power += a * a;
            second_power += b * b;
        }
        if first_power == 0.0 || second_power == 0.0 {
            0.0
        } else {
            product / (first_power * second_power).sqrt()
        }
    };
    (0..=max_lag).any(|lag| {
        correlation(&speech[..n - lag], &other[lag..n]) >= ECHO_CORRELATION
            || correlation(&speech[lag..n], &other[..n - lag]) >= ECHO_CORRELATION
    })
}

/// Cuts `start_ms..end_ms` of every channel (16 kHz) and replaces each bleep's stretch (call
/// time) of its channels with a 1 kHz tone. Returns interleaved samples.
pub fn cut_clip(channels: &[Vec<f32>], start_ms: u64, end_ms: u64, bleep: &[Bleep]) -> Vec<f32> {
    cut_clip_at(channels, 0, start_ms, end_ms, bleep)
}

/// [`cut_clip`] for channels that hold the call from `origin_ms` on, not from its start.
fn cut_clip_at(
    channels: &[Vec<f32>],
    origin_ms: u64,
    start_ms: u64,
    end_ms: u64,
    bleep: &[Bleep],
) -> Vec<f32> {
    let rate = u64::from(TARGET_SAMPLE_RATE);
    let origin = (origin_ms * rate / 1000) as usize;
    let first = (start_ms * rate / 1000) as usize;
    let last = (end_ms * rate / 1000) as usize;
    let n_frames = (channels.iter().map(Vec::len).max().unwrap_or(0) + origin)
        .min(last)
        .saturating_sub(first);
    let ramp = (BLEEP_RAMP_MS * rate / 1000) as f32;
    // Per channel, the frames to bleep.
    let bleep_frames: Vec<Vec<(usize, usize)>> = (0..channels.len())
        .map(|channel| {
            bleep
                .iter()
                .filter(|bleep| bleep.channels.iter().any(|&c| usize::from(c) == channel))
                .map(|bleep| {
                    (
                        (bleep.start_ms * rate / 1000) as usize,
                        (bleep.end_ms * rate / 1000) as usize,
                    )
                })
                .filter(|(start, end)| start < end)
                .collect()
        })
        .collect();
    let mut samples = Vec::with_capacity(n_frames * channels.len());
    for frame in first..first + n_frames {
        for (channel, frames) in channels.iter().zip(&bleep_frames) {
            // The fullest gain of the bleeps over this frame (ramps of adjacent ones overlap).
            let gain = frames
                .iter()
                .filter(|(start, end)| frame >= *start && frame < *end)
                .map(|(start, end)| ((frame - start).min(end - 1 - frame) as f32 / ramp).min(1.0))
                .reduce(f32::max);
            let sample = match gain {
                Some(gain) => {
                    // Phase from call time, so adjacent bleeps join without a jump.
                    let time = frame as f64 / rate as f64;
                    BLEEP_AMPLITUDE * gain * (std::f64::consts::TAU * BLEEP_HZ * time).sin() as f32
                }
                None => frame
                    .checked_sub(origin)
                    .and_then(|index| channel.get(index))
                    .copied()
                    .unwrap_or(0.0),
            };
            samples.push(sample);
        }
    }
    samples
}

/// Interleaved f32 samples as a 16-bit PCM WAV file's bytes.
pub fn wav_bytes(samples: &[f32], n_channels: u16, sample_rate: u32) -> Result<Vec<u8>, String> {
    let spec = hound::WavSpec {
        channels: n_channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).map_err(|error| error.to_string())?;
    for sample in samples {
        let value = (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
        writer
            .write_sample(value)
            .map_err(|error| error.to_string())?;
    }
    writer.finalize().map_err(|error| error.to_string())?;
    Ok(bytes.into_inner())
}

/// The `bleeped` column: each bleep as `m:ss.s–m:ss.s` in call time, then whose channel it is
/// (`agent`, `customer`, `left`/`right` when speakers are unknown, `both channels`; nothing on
/// a mono call) and `(whole utterance)` when it is not placed by word times; `; ` between.
fn format_bleeps(bleeps: &[Bleep], speakers: &[crate::types::Speaker]) -> String {
    use crate::types::Speaker;
    let n_channels = speakers.len();
    let channel_name = |channel: u16| match speakers.get(usize::from(channel)) {
        Some(Speaker::Agent) => "agent".to_string(),
        Some(Speaker::Customer) => "customer".to_string(),
        _ if n_channels == 2 && channel < 2 => ["left", "right"][usize::from(channel)].to_string(),
        _ => format!("channel {}", channel + 1),
    };
    bleeps
        .iter()
        .map(|bleep| {
            let mut text = format!(
                "{}–{}",
                format_time(bleep.start_ms),
                format_time(bleep.end_ms)
            );
            let every = (0..n_channels).all(|channel| bleep.channels.contains(&(channel as u16)));
            if n_channels > 1 {
                text.push(' ');
                if every {
                    text.push_str(if n_channels == 2 {
                        "both channels"
                    } else {
                        "all channels"
                    });
                } else {
                    let names: Vec<String> = bleep
                        .channels
                        .iter()
                        .map(|&channel| channel_name(channel))
                        .collect();
                    text.push_str(&names.join(" + "));
                }
            }
            if !bleep.by_words {
                text.push_str(" (whole utterance)");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A file name part made of safe characters only.
fn file_name_part(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '.' {
                character
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    cleaned.trim_matches('.').to_string()
}

/// Cuts the clip of every row, one decode per call. A call whose audio cannot be read gets no
/// clips, and the reason is returned; the sheet is written either way.
fn write_clips(
    store: &Store,
    folder: &Path,
    items: &[Item<'_>],
    rows: &mut [SheetRow],
) -> Result<Vec<(String, String)>, AuditError> {
    let mut by_call: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        by_call
            .entry(item.call.call_id.as_str())
            .or_default()
            .push(index);
    }
    let mut problems = Vec::new();
    for (call_id, indices) in by_call {
        let call = items[indices[0]].call;
        let audio = match call_audio(store, call) {
            Ok(audio) => audio,
            Err(problem) => {
                problems.push((call_id.to_string(), problem));
                continue;
            }
        };
        let spans: Vec<(u64, u64)> = indices
            .iter()
            .map(|&index| {
                let row = &rows[index];
                clip_span(
                    row.start_ms,
                    row.end_ms,
                    audio.duration_ms,
                    row.kind == "control",
                )
            })
            .collect();
        // The bleeps some clip reaches; on a call of several channels their stretches are read
        // too, to find the channels that carry an echo of the data.
        let overlaps =
            |bleep: &Bleep, (start, end): (u64, u64)| bleep.start_ms < end && bleep.end_ms > start;
        let mut bleeps: Vec<Bleep> = audio
            .bleep
            .iter()
            .filter(|bleep| spans.iter().any(|span| overlaps(bleep, *span)))
            .cloned()
            .collect();
        let mut to_read = spans.clone();
        if audio.n_channels > 1 {
            to_read.extend(bleeps.iter().map(|bleep| (bleep.start_ms, bleep.end_ms)));
        }
        let mut clips = match read_spans(&audio.path, audio.n_channels, &to_read) {
            Ok(clips) => clips,
            Err(problem) => {
                problems.push((call_id.to_string(), problem));
                continue;
            }
        };
        let bleep_audio = clips.split_off(spans.len());
        for (bleep, bleep_audio) in bleeps.iter_mut().zip(&bleep_audio) {
            add_echo_channels(bleep, bleep_audio);
        }
        for ((index, (start_ms, end_ms)), clip_channels) in
            indices.into_iter().zip(spans).zip(clips)
        {
            let row = &mut rows[index];
            let bleeped: Vec<Bleep> = bleeps
                .iter()
                .filter(|bleep| overlaps(bleep, (start_ms, end_ms)))
                .map(|bleep| Bleep {
                    start_ms: bleep.start_ms.max(start_ms),
                    end_ms: bleep.end_ms.min(end_ms),
                    ..bleep.clone()
                })
                .collect();
            let samples = cut_clip_at(&clip_channels, start_ms, start_ms, end_ms, &bleeped);
            let bytes = wav_bytes(&samples, clip_channels.len() as u16, TARGET_SAMPLE_RATE)
                .map_err(|error| AuditError::Invalid(format!("cannot encode a clip: {error}")))?;
            let name = format!(
                "clips/{:03}_{}_{}.wav",
                row.row,
                file_name_part(&row.call_id),
                file_name_part(if row.rule_id.is_empty() {
                    "control"
                } else {
                    &row.rule_id
                })
            );
            write_atomically(&folder.join(&name), &bytes, false)?;
            row.clip = name;
            row.clip_start_ms = Some(start_ms);
            row.clip_end_ms = Some(end_ms);
            row.bleeped = format_bleeps(&bleeped, &audio.speakers);
        }
    }
    Ok(problems)
}

/// A call's recording, checked to be the one the run read, and what to bleep in it.
struct CallAudio {
    path: PathBuf,
    n_channels: u16,
    duration_ms: u64,
    bleep: Vec<Bleep>,
    /// The speaker of each channel of the recording (`Unknown` where the transcript has none).
    speakers: Vec<crate::types::Speaker>,
}

/// Reads `spans` (call time) of every channel of `path` at 16 kHz: per span, per channel.
/// Each channel is streamed once and only the samples inside a span are kept, so a clip from a
/// three-hour call costs the clip, not the call.
fn read_spans(
    path: &Path,
    n_channels: u16,
    spans: &[(u64, u64)],
) -> Result<Vec<Vec<Vec<f32>>>, String> {
    let frames_per_ms = u64::from(TARGET_SAMPLE_RATE) / 1000;
    let frames: Vec<(usize, usize)> = spans
        .iter()
        .map(|(start, end)| {
            (
                (start * frames_per_ms) as usize,
                (end * frames_per_ms) as usize,
            )
        })
        .collect();
    let mut clips: Vec<Vec<Vec<f32>>> =
        vec![Vec::with_capacity(usize::from(n_channels)); spans.len()];
    for channel in 0..usize::from(n_channels) {
        let mut buffers: Vec<Vec<f32>> = frames
            .iter()
            .map(|(first, last)| Vec::with_capacity(last - first))
            .collect();
        let mut position = 0_usize;
        stream_file_channel(path, &DecodeOptions::default(), channel, &mut |block| {
            let block_start = position;
            position += block.len();
            for ((first, last), buffer) in frames.iter().zip(&mut buffers) {
                let (from, to) = ((*first).max(block_start), (*last).min(position));
                if from < to {
                    buffer.extend_from_slice(&block[from - block_start..to - block_start]);
                }
            }
        })
        .map_err(|error| format!("cannot decode {}: {error}", path.display()))?;
        for (clip, buffer) in clips.iter_mut().zip(buffers) {
            clip.push(buffer);
        }
    }
    Ok(clips)
}

/// Finds the recording of a call as the run read it, and its personal data. Fails with a
/// sentence when the recording is gone, changed or unreadable, or the transcript is missing.
fn call_audio(store: &Store, call: &CallRow) -> Result<CallAudio, String> {
    let record = store
        .load_record(&call.call_id)
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("no run record for call {}", call.call_id))?;
    let Outcome::Transcribed { transcript_key } = &record.outcome else {
        return Err(format!("call {} was not transcribed", call.call_id));
    };
    let path = &record.spec.path;
    if !path.is_file() {
        return Err(format!(
            "recording {} not found{}",
            path.display(),
            if path.is_relative() {
                " (the path is relative to the folder `callqa run` was started in; run `callqa sample` from there)"
            } else {
                ""
            }
        ));
    }
    if let Some(expected) = &record.audio_sha256 {
        let actual = file_sha256(path).map_err(|error| format!("{}: {error}", path.display()))?;
        if &actual != expected {
            return Err(format!(
                "recording {} changed since it was transcribed (its SHA-256 differs); its finding times no longer apply",
                path.display()
            ));
        }
    }
    let mut transcript = store
        .load_transcript(transcript_key)
        .map_err(|error| error.to_string())?
        .ok_or_else(|| {
            format!(
                "the transcript of call {} is missing from the cache",
                call.call_id
            )
        })?;
    crate::pipeline::assign_speakers(&mut transcript, record.spec.agent_channel);
    let language = call
        .language
        .clone()
        .or_else(|| transcript.language().map(str::to_string))
        .unwrap_or_else(|| "en".to_string());
    // A transcript stored before word times were kept, or a segment whose words could not be
    // kept, has none: its data is bleeped with the whole utterance.
    let words = store
        .load_segment_words(transcript_key)
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut bleep = personal_data_bleeps(&transcript, &language, &timed_words(&words));
    let info =
        probe_file(path).map_err(|error| format!("cannot decode {}: {error}", path.display()))?;
    let speakers: Vec<crate::types::Speaker> = (0..info.n_channels)
        .map(|channel| {
            transcript
                .channels
                .iter()
                .find(|transcribed| transcribed.channel == channel)
                .map_or(crate::types::Speaker::Unknown, |transcribed| {
                    transcribed.speaker
                })
        })
        .collect();
    // A transcript whose channels are not the recording's cannot say where the data is.
    let channels_match = transcript.channels.len() == usize::from(info.n_channels)
        && transcript
            .segments
            .iter()
            .all(|segment| segment.channel < info.n_channels);
    if !channels_match {
        for bleep in &mut bleep {
            bleep.channels = (0..info.n_channels).collect();
        }
        bleep = merge_bleeps(bleep);
    }
    Ok(CallAudio {
        path: path.clone(),
        n_channels: info.n_channels,
        duration_ms: info.duration_ms,
        bleep,
        speakers,
    })
}

fn write_sheet_csv(path: &Path, rows: &[SheetRow]) -> Result<(), AuditError> {
    let sheet_error = |message: String| AuditError::Sheet {
        path: path.to_path_buf(),
        message,
    };
    // A byte-order mark makes spreadsheet programs read the file as UTF-8.
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut bytes);
        for row in rows {
            writer
                .serialize(row)
                .map_err(|error| sheet_error(error.to_string()))?;
        }
        writer
            .flush()
            .map_err(|error| sheet_error(error.to_string()))?;
    }
    write_atomically(path, &bytes, false)?;
    Ok(())
}

fn sheet_html(sample_id: &str, rows: &[SheetRow]) -> String {
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Audit sample {id}</title><style>\
         body{{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:80rem;padding:1.5rem 1.25rem;color:#1b1f24}}\
         table{{border-collapse:collapse;width:100%;font-size:.88rem}}th,td{{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}}\
         th{{background:#f6f8fa}}td.evidence{{max-width:30rem;overflow-wrap:anywhere}}.muted{{color:#57606a}}audio{{width:15rem}}\
         .verdict{{min-width:6rem;border:1px dashed #d0d7de}}@media print{{audio{{display:none}}tr{{break-inside:avoid}}}}\
         </style></head><body><h1>Audit sample {id}</h1>\
         <p>Listen to each clip and judge the finding. Write <b>correct</b> or <b>incorrect</b> in the <code>verdict</code> column of \
         <code>{csv}</code> (a note is welcome), then run <code>callqa audit import {csv} --out OUT</code>. \
         A 1 kHz tone replaces personal data, with a margin, on the channel of whoever said it (the whole utterance where its words could not be timed). Times are from the start of the call.</p>\
         <table><thead><tr><th>#</th><th>Call</th><th>Agent</th><th>Rule</th><th>Severity</th><th>Time</th><th>Evidence</th><th>Clip</th><th>Verdict</th></tr></thead><tbody>",
        id = escape_html(sample_id),
        csv = SHEET_CSV,
    );
    for row in rows {
        let clip = if row.clip.is_empty() {
            "<span class=\"muted\">no clip</span>".to_string()
        } else {
            format!(
                "<audio controls preload=\"none\" src=\"{src}\"></audio><br><span class=\"muted\">{from}–{to}{bleeped}</span>",
                src = escape_html(&row.clip),
                from = row.clip_start_ms.map_or_else(String::new, format_time),
                to = row.clip_end_ms.map_or_else(String::new, format_time),
                bleeped = if row.bleeped.is_empty() {
                    String::new()
                } else {
                    format!(" · bleeped {}", escape_html(&row.bleeped))
                }
            )
        };
        let time = if row.start.is_empty() && row.end.is_empty() {
            "whole call".to_string()
        } else {
            format!("{}–{}", row.start, row.end)
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"evidence\" dir=\"auto\">{}</td><td>{}</td><td class=\"verdict\"></td></tr>",
            row.row,
            escape_html(&row.call_id),
            row.call_date,
            escape_html(&row.agent_id),
            if row.kind == "control" {
                "<i>control call</i>".to_string()
            } else {
                escape_html(&row.rule_id)
            },
            escape_html(&row.severity),
            escape_html(&time),
            escape_html(&row.evidence),
            clip
        ));
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

// ---------------------------------------------------------------------------------------------
// Import

/// What `callqa audit import` read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub sample_ids: Vec<String>,
    pub n_rows: usize,
    pub n_correct: usize,
    pub n_incorrect: usize,
    pub n_empty: usize,
    /// Rows of earlier imports of the same samples that were replaced.
    pub n_replaced: usize,
    pub n_audits_total: usize,
}

/// `correct`/`yes` → correct, `incorrect`/`no` → incorrect, empty → not judged (any case,
/// surrounding spaces ignored). Anything else is an error.
pub fn parse_verdict(text: &str) -> Result<Option<&'static str>, String> {
    match text.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "correct" | "yes" => Ok(Some("correct")),
        "incorrect" | "no" => Ok(Some("incorrect")),
        other => Err(format!(
            "verdict {other:?} is not one of correct, incorrect, yes, no (or empty)"
        )),
    }
}

/// The delimiter of a sheet saved by a spreadsheet program: comma, semicolon (locales with a
/// decimal comma) or tab, whichever the header line has most of.
fn sniff_delimiter(header_line: &str) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|delimiter| {
            (
                header_line.bytes().filter(|byte| byte == delimiter).count(),
                *delimiter == b',',
            )
        })
        .unwrap_or(b',')
}

/// Reads the verdicts of a sheet written by [`draw_sample`] (and filled in by an auditor)
/// into the `audits` table. All or nothing: one bad row and nothing is written. Re-importing
/// a sheet replaces the rows of its sample.
/// The items of sample `sample_id`, from its `sample.json` beside the sheet or in the
/// dataset's `audit-samples` folder; `Ok(None)` for a sample drawn before items were listed,
/// or whose `sample.json` is not at hand.
fn sample_items(
    out: &Path,
    sheet: &Path,
    sample_id: &str,
) -> Result<Option<BTreeMap<String, SampleItem>>, String> {
    let candidates = [
        sheet.parent().map(|folder| folder.join("sample.json")),
        Some(
            out.join("audit-samples")
                .join(sample_id)
                .join("sample.json"),
        ),
    ];
    for candidate in candidates.into_iter().flatten() {
        let Ok(bytes) = std::fs::read(&candidate) else {
            continue;
        };
        let index: SampleIndex = serde_json::from_slice(&bytes).map_err(|error| {
            format!("{}: not a sample description: {error}", candidate.display())
        })?;
        if index.sample_id == sample_id {
            return Ok(index.items.map(|items| {
                items
                    .into_iter()
                    .map(|item| (item.item_id.clone(), item))
                    .collect()
            }));
        }
    }
    // A sheet sent back on its own (by e-mail, from a sample drawn into another folder): its
    // rows are checked against the dataset only, as a sample drawn before items were listed.
    Ok(None)
}

pub fn import_sheet(out: &Path, sheet: &Path) -> Result<ImportSummary, AuditError> {
    let sheet_error = |message: String| AuditError::Sheet {
        path: sheet.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(sheet).map_err(|error| sheet_error(error.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| sheet_error("not UTF-8 text; save the sheet as CSV UTF-8".to_string()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let delimiter = sniff_delimiter(text.lines().next().unwrap_or(""));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|error| sheet_error(error.to_string()))?
        .iter()
        .map(|header| header.trim().to_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|header| header == name);
    let required = [
        "sample_id",
        "item_id",
        "kind",
        "call_id",
        "agent_id",
        "verdict",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|name| column(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(sheet_error(format!(
            "no column {} (a sheet written by `callqa sample` has them)",
            missing.join(", ")
        )));
    }
    // Call dates from the dataset: a spreadsheet may have rewritten the sheet's dates.
    let call_dates: BTreeMap<String, NaiveDate> = read_calls(out, &|_| true)?
        .into_iter()
        .map(|call| (call.call_id, call.call_date))
        .collect();
    let imported_at = Utc::now();
    let mut samples: BTreeMap<String, Result<Option<BTreeMap<String, SampleItem>>, String>> =
        BTreeMap::new();
    let mut rows: Vec<AuditRow> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|error| sheet_error(error.to_string()))?;
        // The file's line, as an editor numbers it, from where the record's text starts: with
        // CRLF line ends (spreadsheets write them) the reader's own line count is one short,
        // having ended the previous record at the CR.
        let line = record.position().map_or(0, |position| {
            let start = (position.byte() as usize).min(text.len());
            let skipped = text[start..]
                .bytes()
                .take_while(|byte| matches!(byte, b'\r' | b'\n'))
                .count();
            text[..start + skipped].matches('\n').count() as u64 + 1
        });
        let cell = |name: &str| -> String {
            column(name)
                .and_then(|index| record.get(index))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let optional = |name: &str| Some(cell(name)).filter(|value| !value.is_empty());
        if record.iter().all(|value| value.trim().is_empty()) {
            continue;
        }
        let sample_id = cell("sample_id");
        let item_id = cell("item_id");
        let kind = cell("kind").to_lowercase();
        let call_id = cell("call_id");
        if sample_id.is_empty() || item_id.is_empty() || call_id.is_empty() {
            problems.push(format!(
                "line {line}: sample_id, item_id and call_id must not be empty"
            ));
            continue;
        }
        if kind != "finding" && kind != "control" {
            problems.push(format!(
                "line {line}: kind {kind:?} is not finding or control"
            ));
            continue;
        }
        let verdict = match parse_verdict(&cell("verdict")) {
            Ok(verdict) => verdict,
            Err(message) => {
                problems.push(format!("line {line}: {message}"));
                continue;
            }
        };
        // The row must be an item of a sample drawn from this dataset, as it was drawn: a
        // sheet re-sorted or edited in a spreadsheet, or imported into the wrong dataset,
        // would otherwise corrupt the rules' precision quietly.
        let sample = samples
            .entry(sample_id.clone())
            .or_insert_with(|| sample_items(out, sheet, &sample_id));
        match sample {
            Err(message) => {
                problems.push(format!("line {line}: {message}"));
                continue;
            }
            Ok(Some(items)) => {
                let Some(item) = items.get(&item_id) else {
                    problems.push(format!(
                        "line {line}: item {item_id} is not in sample {sample_id}"
                    ));
                    continue;
                };
                if item.kind != kind || item.call_id != call_id || item.rule_id != cell("rule_id") {
                    problems.push(format!(
                        "line {line}: item {item_id} was drawn as a {} of call {} for rule {:?}, \
                         not as this row says ({kind} of call {call_id} for rule {:?})",
                        item.kind,
                        item.call_id,
                        item.rule_id,
                        cell("rule_id")
                    ));
                    continue;
                }
            }
            Ok(None) => {}
        }
        if let Some(first) = seen.insert((sample_id.clone(), item_id.clone()), line) {
            problems.push(format!(
                "line {line}: item {item_id} is also on line {first}"
            ));
            continue;
        }
        let Some(&call_date) = call_dates.get(&call_id) else {
            problems.push(format!(
                "line {line}: call {call_id} is not in the dataset {}; is it the one the sample \
                 was drawn from?",
                out.display()
            ));
            continue;
        };
        let number = |name: &str| cell(name).parse::<u64>().ok();
        rows.push(AuditRow {
            sample_id,
            item_id,
            kind,
            call_id,
            agent_id: cell("agent_id"),
            call_date,
            rule_id: optional("rule_id"),
            category: optional("category"),
            severity: optional("severity"),
            start_ms: number("start_ms"),
            end_ms: number("end_ms"),
            verdict: verdict.map(str::to_string),
            note: optional("note"),
            imported_at,
        });
    }
    if !problems.is_empty() {
        return Err(sheet_error(format!(
            "nothing imported; fix these rows:\n  {}",
            problems.join("\n  ")
        )));
    }
    if rows.is_empty() {
        return Err(sheet_error("the sheet has no rows".to_string()));
    }
    let sample_ids: BTreeSet<String> = rows.iter().map(|row| row.sample_id.clone()).collect();
    let mut all = read_audits(out)?;
    let before = all.len();
    all.retain(|row| !sample_ids.contains(&row.sample_id));
    let n_replaced = before - all.len();
    let summary = ImportSummary {
        sample_ids: sample_ids.into_iter().collect(),
        n_rows: rows.len(),
        n_correct: rows
            .iter()
            .filter(|row| row.verdict.as_deref() == Some("correct"))
            .count(),
        n_incorrect: rows
            .iter()
            .filter(|row| row.verdict.as_deref() == Some("incorrect"))
            .count(),
        n_empty: rows.iter().filter(|row| row.verdict.is_none()).count(),
        n_replaced,
        n_audits_total: all.len() + rows.len(),
    };
    all.extend(rows);
    all.sort_by(|left, right| {
        (left.call_date, &left.sample_id, &left.item_id).cmp(&(
            right.call_date,
            &right.sample_id,
            &right.item_id,
        ))
    });
    write_audits(out, &all, imported_at.date_naive())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_reproducible_and_uniform_enough() {
        let mut first = SplitMix64::new(42);
        let mut second = SplitMix64::new(42);
        let a: Vec<u64> = (0..5).map(|_| first.next_u64()).collect();
        let b: Vec<u64> = (0..5).map(|_| second.next_u64()).collect();
        assert_eq!(a, b);
        // Reference value of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut counts = [0usize; 4];
        let mut rng = SplitMix64::new(7);
        for _ in 0..4000 {
            counts[rng.below(4)] += 1;
        }
        assert!(
            counts.iter().all(|count| (800..1200).contains(count)),
            "{counts:?}"
        );
    }

    #[test]
    fn allocation_gives_every_stratum_one_then_shares_in_proportion() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(allocate(&[10, 1, 5, 0], 6, &mut rng), vec![3, 1, 2, 0]);
        assert_eq!(allocate(&[10, 1, 5], 100, &mut rng), vec![10, 1, 5]);
        assert_eq!(allocate(&[3, 3, 3], 3, &mut rng), vec![1, 1, 1]);
        let few = allocate(&[3, 3, 3], 2, &mut rng);
        assert_eq!(few.iter().sum::<usize>(), 2);
        assert!(few.iter().all(|share| *share <= 1));
        for total in 0..20 {
            let shares = allocate(&[7, 2, 9, 1], total, &mut rng);
            assert_eq!(shares.iter().sum::<usize>(), total.min(19));
            assert!(
                shares
                    .iter()
                    .zip([7, 2, 9, 1])
                    .all(|(share, size)| *share <= size)
            );
        }
    }

    #[test]
    fn verdicts_parse_in_any_case() {
        assert_eq!(parse_verdict(" Correct "), Ok(Some("correct")));
        assert_eq!(parse_verdict("YES"), Ok(Some("correct")));
        assert_eq!(parse_verdict("incorrect"), Ok(Some("incorrect")));
        assert_eq!(parse_verdict("No"), Ok(Some("incorrect")));
        assert_eq!(parse_verdict(""), Ok(None));
        assert!(parse_verdict("maybe").is_err());
        assert_eq!(sniff_delimiter("a;b;c"), b';');
        assert_eq!(sniff_delimiter("a,b,c"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
    }

    #[test]
    fn clip_spans_keep_a_margin_and_stay_in_the_call() {
        assert_eq!(
            clip_span(Some(5_000), Some(7_000), 20_000, false),
            (3_000, 9_000)
        );
        assert_eq!(
            clip_span(Some(500), Some(19_500), 20_000, false),
            (0, 20_000)
        );
        assert_eq!(clip_span(None, None, 90_000, false), (0, MAX_CLIP_MS));
        assert_eq!(
            clip_span(Some(10_000), Some(200_000), 300_000, false),
            (8_000, 8_000 + MAX_CLIP_MS)
        );
        assert_eq!(clip_span(None, None, 30_000, true), (0, 30_000));
    }

    #[test]
    fn spans_read_as_a_stream_are_the_decoded_call_cut() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/c01_polite_mulaw.wav");
        let decoded =
            crate::decode::decode_file(&path, &DecodeOptions::default()).expect("fixture");
        let info = probe_file(&path).expect("fixture");
        assert_eq!(usize::from(info.n_channels), decoded.channels.len());
        // Overlapping spans, one at the very start and one running past the end.
        let spans = [(0, 500), (1_200, 3_400), (3_000, 3_100), (14_000, 20_000)];
        let clips = read_spans(&path, info.n_channels, &spans).expect("readable");
        assert_eq!(clips.len(), spans.len());
        for ((start_ms, end_ms), clip) in spans.iter().zip(&clips) {
            assert_eq!(clip.len(), decoded.channels.len());
            for (channel, samples) in decoded.channels.iter().zip(clip) {
                let first = (*start_ms * 16) as usize;
                let last = ((*end_ms * 16) as usize).min(channel.len());
                assert_eq!(samples.as_slice(), &channel[first..last]);
            }
            // Cut at its own origin, a clip is the clip cut from the whole call.
            let bleep = [Bleep {
                start_ms: start_ms + 50,
                end_ms: start_ms + 90,
                channels: vec![0, 1],
                by_words: true,
            }];
            assert_eq!(
                cut_clip_at(clip, *start_ms, *start_ms, *end_ms, &bleep),
                cut_clip(&decoded.channels, *start_ms, *end_ms, &bleep)
            );
        }
        let missing = read_spans(Path::new("/nonexistent/call.wav"), 2, &spans);
        assert!(missing.unwrap_err().contains("/nonexistent/call.wav"));
    }

    const RATE: usize = TARGET_SAMPLE_RATE as usize;

    /// `seconds` of a sine at `frequency`: stands for a channel's speech.
    fn sine(frequency: f32, seconds: usize) -> Vec<f32> {
        (0..RATE * seconds)
            .map(|index| {
                0.5 * (std::f32::consts::TAU * frequency * index as f32 / RATE as f32).sin()
            })
            .collect()
    }

    /// Channel `channel` of interleaved `samples` over `from..to` ms of a clip from `clip_start`.
    fn stretch(
        samples: &[f32],
        n_channels: usize,
        channel: usize,
        clip_start: usize,
        (from, to): (usize, usize),
    ) -> Vec<f32> {
        ((from - clip_start) * RATE / 1000..(to - clip_start) * RATE / 1000)
            .map(|frame| samples[frame * n_channels + channel])
            .collect()
    }

    /// Whether a stretch is the bleep: 1 kHz, nothing of the speech's frequency.
    fn is_tone(samples: &[f32], speech_hz: f64) -> bool {
        let power = |frequency: f64| goertzel(samples, frequency, RATE as f64);
        power(BLEEP_HZ) > 100.0 * power(speech_hz)
    }

    /// A stereo call: the agent on channel 0 (0–2 s), the customer on channel 1, who reads a
    /// card number between 5.0 and 9.0 s of a 2.5–12.0 s utterance.
    fn card_call() -> crate::types::CallTranscript {
        use crate::types::{Layout, Speaker};
        crate::types::CallTranscript::from_lines(
            &[
                (Speaker::Agent, 0, 2_000, "Union Bank, how can I help?"),
                (
                    Speaker::Customer,
                    2_500,
                    12_000,
                    "I lost my card yesterday, the number is 4111 1111 1111 1111, please \
                     block it right away.",
                ),
            ],
            Layout::Stereo,
        )
    }

    /// The customer's words with times: "is" 4.7–4.9 s, the card's four groups 5.0–9.0 s,
    /// "please" 9.2–9.6 s.
    fn card_words() -> Vec<TimedWord<'static>> {
        [
            ("I", 2_500, 2_600),
            ("lost", 2_600, 2_900),
            ("my", 2_900, 3_050),
            ("card", 3_050, 3_400),
            ("yesterday,", 3_400, 4_100),
            ("the", 4_300, 4_400),
            ("number", 4_400, 4_700),
            ("is", 4_700, 4_900),
            ("4111", 5_000, 6_000),
            ("1111", 6_000, 7_000),
            ("1111", 7_000, 8_000),
            ("1111,", 8_000, 9_000),
            ("please", 9_200, 9_600),
            ("block", 9_600, 10_000),
            ("it", 10_000, 10_200),
            ("right", 10_300, 10_600),
            ("away.", 10_600, 11_300),
        ]
        .into_iter()
        .map(|(text, start_ms, end_ms)| TimedWord {
            text,
            start_ms,
            end_ms,
        })
        .collect()
    }

    #[test]
    fn a_card_mid_utterance_is_bleeped_around_its_words_on_its_speakers_channel() {
        let transcript = card_call();
        let words = vec![Vec::new(), card_words()];
        let bleeps = personal_data_bleeps(&transcript, "en", &words);
        // From "is" to "please", and the margin.
        assert_eq!(
            bleeps,
            vec![Bleep {
                start_ms: 4_700 - WORD_BLEEP_MARGIN_MS,
                end_ms: 9_600 + WORD_BLEEP_MARGIN_MS,
                channels: vec![1],
                by_words: true,
            }]
        );
        // Agent at 300 Hz on the left, customer at 500 Hz on the right.
        let channels = vec![sine(300.0, 13), sine(500.0, 13)];
        let clip_start = 1_000;
        let samples = cut_clip(&channels, clip_start as u64, 12_500, &bleeps);
        assert_eq!(samples.len(), 11_500 * RATE / 1000 * 2);
        // The customer's words before and after: the recording, sample for sample.
        for (from, to) in [(1_000, 4_290), (10_010, 12_500)] {
            let heard = stretch(&samples, 2, 1, clip_start, (from, to));
            let recorded = &channels[1][from * RATE / 1000..to * RATE / 1000];
            assert_eq!(heard, recorded, "{from}–{to} ms");
        }
        // The card's words and their surroundings: the tone only.
        for (from, to) in [
            (4_310, 5_000),
            (5_000, 7_000),
            (7_000, 9_000),
            (9_000, 9_990),
        ] {
            let heard = stretch(&samples, 2, 1, clip_start, (from, to));
            assert!(is_tone(&heard, 500.0), "{from}–{to} ms");
        }
        // The agent's channel is the recording throughout.
        let agent = stretch(&samples, 2, 0, clip_start, (1_000, 12_500));
        assert_eq!(agent, &channels[0][RATE..12_500 * RATE / 1000]);
        // Written out, the tone is there and the speech around it intact.
        let bytes = wav_bytes(&samples, 2, TARGET_SAMPLE_RATE).unwrap();
        let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(reader.spec().bits_per_sample, 16);
        let written: Vec<f32> = reader
            .samples::<i16>()
            .map(|sample| f32::from(sample.unwrap()) / f32::from(i16::MAX))
            .collect();
        assert!(is_tone(
            &stretch(&written, 2, 1, clip_start, (5_000, 9_000)),
            500.0
        ));
        let before = stretch(&written, 2, 1, clip_start, (3_000, 4_000));
        assert!(!is_tone(&before, 500.0));
        assert!((before[100] - channels[1][3_000 * RATE / 1000 + 100]).abs() < 1e-4);
        assert_eq!(
            format_bleeps(
                &bleeps,
                &[
                    crate::types::Speaker::Agent,
                    crate::types::Speaker::Customer
                ]
            ),
            "0:04.3–0:10.0 customer"
        );
    }

    #[test]
    fn data_opening_or_closing_an_utterance_is_bleeped_from_or_to_its_edge() {
        use crate::types::{Layout, Speaker};
        let transcript = crate::types::CallTranscript::from_lines(
            &[(
                Speaker::Customer,
                1_000,
                6_000,
                "4111 1111 1111 1111 is mine",
            )],
            Layout::Stereo,
        );
        let words: Vec<TimedWord<'static>> = [
            ("4111", 1_000, 2_000),
            ("1111", 2_000, 3_000),
            ("1111", 3_000, 4_000),
            ("1111", 4_000, 5_000),
            ("is", 5_000, 5_300),
            ("mine", 5_300, 5_800),
        ]
        .into_iter()
        .map(|(text, start_ms, end_ms)| TimedWord {
            text,
            start_ms,
            end_ms,
        })
        .collect();
        let bleeps = personal_data_bleeps(&transcript, "en", std::slice::from_ref(&words));
        assert_eq!(
            (bleeps[0].start_ms, bleeps[0].end_ms, bleeps[0].by_words),
            (
                1_000 - UTTERANCE_BLEEP_MARGIN_MS,
                5_300 + WORD_BLEEP_MARGIN_MS,
                true
            )
        );
        let closing = crate::types::CallTranscript::from_lines(
            &[(
                Speaker::Customer,
                1_000,
                7_000,
                "is mine 4111 1111 1111 1111",
            )],
            Layout::Stereo,
        );
        let mut reordered = words[4..].to_vec();
        reordered.extend_from_slice(&words[..4]);
        for (index, word) in reordered.iter_mut().enumerate() {
            word.start_ms = 1_000 + 1_000 * index as u64;
            word.end_ms = word.start_ms + 1_000;
        }
        let bleeps = personal_data_bleeps(&closing, "en", &[reordered]);
        assert_eq!(
            (bleeps[0].start_ms, bleeps[0].end_ms, bleeps[0].by_words),
            (
                2_000 - WORD_BLEEP_MARGIN_MS,
                7_000 + UTTERANCE_BLEEP_MARGIN_MS,
                true
            )
        );
    }

    #[test]
    fn the_agents_data_is_bleeped_on_the_agent_channel_and_a_mono_calls_on_its_one() {
        use crate::types::{Layout, Speaker};
        let stereo = crate::types::CallTranscript::from_lines(
            &[
                (Speaker::Customer, 0, 2_000, "Can you read it back?"),
                (Speaker::Agent, 2_500, 6_000, "Sure, 4111 1111 1111 1111."),
            ],
            Layout::Stereo,
        );
        let bleeps = personal_data_spans(&stereo, "en");
        assert_eq!(bleeps.len(), 1);
        assert_eq!(bleeps[0].channels, vec![0]);
        assert!(!bleeps[0].by_words);
        let mut mono = stereo.clone();
        mono.layout = Layout::Mono;
        for segment in &mut mono.segments {
            segment.speaker = Speaker::Unknown;
            segment.channel = 0;
        }
        let bleeps = personal_data_spans(&mono, "en");
        assert_eq!(bleeps.len(), 1);
        assert_eq!(bleeps[0].channels, vec![0]);
        let samples = cut_clip(&[sine(300.0, 7)], 0, 7_000, &bleeps);
        assert!(is_tone(&stretch(&samples, 1, 0, 0, (2_300, 6_200)), 300.0));
        assert!(!is_tone(&stretch(&samples, 1, 0, 0, (0, 2_200)), 300.0));
        assert_eq!(
            format_bleeps(&bleeps, &[Speaker::Unknown]),
            "0:02.2–0:06.2 (whole utterance)"
        );
    }

    #[test]
    fn missing_or_bad_word_times_bleep_the_whole_utterance() {
        let transcript = card_call();
        let whole = vec![Bleep {
            start_ms: 2_500 - UTTERANCE_BLEEP_MARGIN_MS,
            end_ms: 12_000 + UTTERANCE_BLEEP_MARGIN_MS,
            channels: vec![1],
            by_words: false,
        }];
        let with = |words: Vec<TimedWord<'static>>| {
            personal_data_bleeps(&transcript, "en", &[Vec::new(), words])
        };
        // No word times at all, or none for this segment.
        assert_eq!(personal_data_spans(&transcript, "en"), whole);
        assert_eq!(with(Vec::new()), whole);
        let good = card_words();
        assert!(with(good.clone())[0].by_words);
        // Times going back (two groups of the card swapped in time).
        let mut words = good.clone();
        words.swap(9, 10);
        assert_eq!(with(words), whole);
        // A word ending before it starts.
        let mut words = good.clone();
        words[8].end_ms = 4_950;
        assert_eq!(with(words), whole);
        // Outside the utterance, before or after.
        let mut words = good.clone();
        words[0].start_ms = 2_000;
        assert_eq!(with(words), whole);
        let mut words = good.clone();
        words[16].end_ms = 12_500;
        assert_eq!(with(words), whole);
        // The words stop before the card does: its last group has no time.
        assert_eq!(with(good[..11].to_vec()), whole);
        // Words that are not the text's (another transcript's, or one missing).
        let mut words = good.clone();
        words[10].text = "2222";
        assert_eq!(with(words), whole);
        let mut words = good.clone();
        words.remove(1);
        assert_eq!(with(words), whole);
        // Sixteen digits aligned into 400 ms: the alignment is wrong.
        let mut words = good.clone();
        for (index, word) in words[8..12].iter_mut().enumerate() {
            word.start_ms = 5_000 + 100 * index as u64;
            word.end_ms = word.start_ms + 100;
        }
        assert_eq!(with(words), whole);
        // The whole utterance stays on the speaker's channel.
        let channels = vec![sine(300.0, 13), sine(500.0, 13)];
        let samples = cut_clip(&channels, 0, 13_000, &whole);
        assert!(is_tone(&stretch(&samples, 2, 1, 0, (2_300, 12_200)), 500.0));
        assert_eq!(stretch(&samples, 2, 0, 0, (0, 13_000)), channels[0]);
        assert_eq!(
            stretch(&samples, 2, 1, 0, (0, 2_200)),
            &channels[1][..2_200 * RATE / 1000]
        );
    }

    #[test]
    fn two_pieces_of_data_in_an_utterance_get_a_bleep_each() {
        use crate::types::{Layout, Speaker};
        let transcript = crate::types::CallTranscript::from_lines(
            &[(
                Speaker::Customer,
                1_000,
                12_000,
                "My card is 4111 1111 1111 1111 and I would also like to say my e-mail is \
                 jane.doe@example.com thanks",
            )],
            Layout::Stereo,
        );
        let words: Vec<TimedWord<'static>> = [
            ("My", 1_000, 1_200),
            ("card", 1_200, 1_500),
            ("is", 1_500, 1_700),
            ("4111", 1_800, 2_800),
            ("1111", 2_800, 3_800),
            ("1111", 3_800, 4_800),
            ("1111", 4_800, 5_800),
            ("and", 6_000, 6_200),
            ("I", 6_200, 6_300),
            ("would", 6_300, 6_500),
            ("also", 6_500, 6_800),
            ("like", 6_800, 7_000),
            ("to", 7_000, 7_100),
            ("say", 7_100, 7_400),
            ("my", 7_400, 7_600),
            ("e-mail", 7_600, 8_000),
            ("is", 8_000, 8_200),
            ("jane.doe@example.com", 8_300, 10_300),
            ("thanks", 10_800, 11_300),
        ]
        .into_iter()
        .map(|(text, start_ms, end_ms)| TimedWord {
            text,
            start_ms,
            end_ms,
        })
        .collect();
        let bleeps = personal_data_bleeps(&transcript, "en", &[words]);
        let times: Vec<(u64, u64)> = bleeps
            .iter()
            .map(|bleep| (bleep.start_ms, bleep.end_ms))
            .collect();
        assert_eq!(times, vec![(1_100, 6_600), (7_600, 11_700)]);
        assert_eq!(
            format_bleeps(&bleeps, &[crate::types::Speaker::Agent, Speaker::Customer]),
            "0:01.1–0:06.6 customer; 0:07.6–0:11.7 customer"
        );
    }

    #[test]
    fn overlapping_bleeps_of_a_channel_merge_and_others_stay_apart() {
        let bleep = |start_ms, end_ms, channel| Bleep {
            start_ms,
            end_ms,
            channels: vec![channel],
            by_words: true,
        };
        let merged = merge_bleeps(vec![
            bleep(5_000, 7_000, 1),
            bleep(1_000, 3_000, 1),
            bleep(2_500, 4_000, 1),
            bleep(2_000, 3_500, 0),
        ]);
        assert_eq!(
            merged,
            vec![
                bleep(1_000, 4_000, 1),
                bleep(2_000, 3_500, 0),
                bleep(5_000, 7_000, 1)
            ]
        );
    }

    /// Syllable-like bursts: a 400 Hz tone switched on and off at random (seeded) in 50–300 ms
    /// pieces, the envelope of speech.
    fn bursts(seed: u64, seconds: usize) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        let mut samples = Vec::with_capacity(RATE * seconds);
        let mut on = true;
        while samples.len() < RATE * seconds {
            let length = (50 + rng.below(250)) * RATE / 1000;
            let level = if on { 0.3 } else { 0.0 };
            for _ in 0..length {
                let time = samples.len() as f32 / RATE as f32;
                samples.push(level * (std::f32::consts::TAU * 400.0 * time).sin());
            }
            on = !on;
        }
        samples.truncate(RATE * seconds);
        samples
    }

    #[test]
    fn a_channel_echoing_the_data_is_bleeped_too_and_independent_speech_is_not() {
        let speech = bursts(1, 4);
        // The same speech 30 dB down and 120 ms late, over faint line noise.
        let mut rng = SplitMix64::new(9);
        let delay = 120 * RATE / 1000;
        let echo: Vec<f32> = (0..speech.len())
            .map(|index| {
                let noise = (rng.below(2001) as f32 - 1000.0) * 1e-6;
                index.checked_sub(delay).map_or(0.0, |at| 0.03 * speech[at]) + noise
            })
            .collect();
        let other_speech = bursts(2, 4);
        let silence = vec![0.0; speech.len()];
        let line_noise: Vec<f32> = (0..speech.len())
            .map(|_| (rng.below(2001) as f32 - 1000.0) * 1e-5)
            .collect();
        for (other, expected) in [
            (&echo, vec![0, 1]),
            (&other_speech, vec![0]),
            (&silence, vec![0]),
            (&line_noise, vec![0]),
        ] {
            let mut bleep = Bleep {
                start_ms: 0,
                end_ms: 4_000,
                channels: vec![0],
                by_words: true,
            };
            add_echo_channels(&mut bleep, &[speech.clone(), other.clone()]);
            assert_eq!(bleep.channels, expected);
        }
        let both = Bleep {
            start_ms: 0,
            end_ms: 4_000,
            channels: vec![0, 1],
            by_words: false,
        };
        assert_eq!(
            format_bleeps(
                &[both],
                &[
                    crate::types::Speaker::Unknown,
                    crate::types::Speaker::Unknown
                ]
            ),
            "0:00.0–0:04.0 both channels (whole utterance)"
        );
    }

    fn goertzel(samples: &[f32], frequency: f64, rate: f64) -> f64 {
        let coefficient = 2.0 * (std::f64::consts::TAU * frequency / rate).cos();
        let (mut previous, mut before) = (0.0, 0.0);
        for sample in samples {
            let current = f64::from(*sample) + coefficient * previous - before;
            before = previous;
            previous = current;
        }
        previous * previous + before * before - coefficient * previous * before
    }
}
