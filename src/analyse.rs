//! Analyse and score: from stored transcripts to table rows. No audio, no model.
//!
//! Architecture invariant: this stage is a pure function of (call record, transcript, rules,
//! options). `run` and `rescore` both call [`build_tables`], so re-scoring after a rule edit
//! gives exactly the rows a fresh run with those rules would.
//!
//! Privacy invariant: raw transcript text enters here and leaves only redacted (unless
//! `keep_personal_data` is set, and then in segment text and evidence alike): segment text goes
//! through [`crate::pii::redact_transcript`]; finding evidence quotes the transcript only
//! through the rules' redacted quotes (`rules::context`), and the rest of it is machine-written
//! (times, measurements), which a second pass would mangle ("0:09" near "PIN" taken for a
//! secret).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::dataset::{AgentRow, CallRow, FailureRow, FindingRow, SegmentRow, Tables};
use crate::pipeline::{assign_speakers, catch_panic};
use crate::rules::{Finding, RuleSet, RulesError};
use crate::score::{CallStatus, ScoringConfig, aggregate_agents, score_call};
use crate::store::{CallRecord, Failure, Outcome, Store, StoreError};
use crate::tone::ToneLexicons;
use crate::types::{CallTranscript, Measurements, SegmentQuality};

/// Options of the analysis stage (not of transcription: changing these never re-transcribes).
#[derive(Debug, Clone)]
pub struct AnalysisOptions {
    /// Write unredacted text into Parquet and the report. Off by default; for sites whose
    /// data protection officer has approved it.
    pub keep_personal_data: bool,
    /// Vocal arousal of agents (loudness, pitch, rate). Some jurisdictions restrict emotion
    /// inference about employees (EU AI Act Art. 5(1)(f)); text sentiment works either way.
    pub agent_vocal_analysis: bool,
    pub scoring: ScoringConfig,
    /// The site's time zone: a call's date (its partition, its agent-day) is the local date
    /// of its start there, as a manager counts days. UTC unless the dataset was given one.
    pub timezone: chrono_tz::Tz,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            keep_personal_data: false,
            agent_vocal_analysis: true,
            scoring: ScoringConfig::default(),
            timezone: chrono_tz::Tz::UTC,
        }
    }
}

/// Rules and lexicons, loaded and validated once per run.
pub struct Analyzer {
    rules: RuleSet,
    lexicons: ToneLexicons,
    options: AnalysisOptions,
}

/// What analysis found on one call.
#[derive(Debug, Clone)]
pub struct CallAnalysis {
    pub measurements: Measurements,
    pub findings: Vec<Finding>,
    pub score: crate::score::CallScore,
}

/// Counts over the tables written, for the run summary and manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TableSummary {
    pub n_calls: usize,
    pub n_scored: usize,
    pub n_not_scorable: usize,
    pub n_failed: usize,
    pub n_flagged: usize,
    pub n_segments: usize,
    pub n_findings: usize,
    pub n_agent_days: usize,
    /// Calls that failed while the tables were built (call id, where and why in a few words;
    /// the whole message is in `failures`): a bug in callqa's analysis, or a transcript or
    /// record the state folder lost. Listed at the end of the run like the calls that failed
    /// before it, and the run's exit code counts them.
    pub analysis_failures: Vec<(String, String)>,
}

impl Analyzer {
    pub fn load(rules_dir: &Path, options: AnalysisOptions) -> anyhow::Result<Analyzer> {
        let rules = RuleSet::load(rules_dir).map_err(|error| {
            let hint = if matches!(error, RulesError::NoFolder(_)) {
                " (--rules or CALLQA_RULES names the rulebooks' folder; by default `rules` in the current folder)"
            } else {
                ""
            };
            let context = format!("cannot load the rulebooks in {}{hint}", rules_dir.display());
            anyhow::Error::new(error).context(context)
        })?;
        let lexicons = ToneLexicons::load(&rules_dir.join("lexicons").join("sentiment"))
            .with_context(|| {
                format!(
                    "cannot load the sentiment lexicons in {}",
                    rules_dir.display()
                )
            })?;
        Ok(Analyzer {
            rules,
            lexicons,
            options,
        })
    }

    pub fn rules_hash(&self) -> &str {
        self.rules.hash()
    }

    pub fn options(&self) -> &AnalysisOptions {
        &self.options
    }

    /// Measures, applies the rulebook of the call's language, and scores.
    pub fn analyse(
        &self,
        transcript: &CallTranscript,
        manifest_language: Option<&str>,
    ) -> CallAnalysis {
        let language = manifest_language.or(transcript.language());
        let measurements = crate::tone::analyse(
            transcript,
            &self.lexicons,
            &crate::tone::ToneOptions {
                agent_vocal_analysis: self.options.agent_vocal_analysis,
                ..crate::tone::ToneOptions::default()
            },
        );
        let rulebook = self.rules.for_language(language);
        let quotes = if self.options.keep_personal_data {
            crate::rules::Quotes::Verbatim
        } else {
            crate::rules::Quotes::Redacted
        };
        let findings =
            crate::rules::evaluate_with_quotes(rulebook, transcript, &measurements, quotes);
        let score = score_call(transcript, &findings, &self.options.scoring);
        CallAnalysis {
            measurements,
            findings,
            score,
        }
    }
}

/// A call's date: the local date of its start (of its processing when the start is unknown)
/// in the site's time zone.
pub(crate) fn call_date(record: &CallRecord, timezone: chrono_tz::Tz) -> NaiveDate {
    record
        .spec
        .started_at
        .unwrap_or(record.processed_at)
        .with_timezone(&timezone)
        .date_naive()
}

/// Builds every table from the call records (and their cached transcripts).
pub fn build_tables(
    store: &Store,
    analyzer: &Analyzer,
    records: &[CallRecord],
) -> anyhow::Result<(Tables, TableSummary)> {
    build(store, analyzer, records, false)
}

/// The `agents` rows of `records` alone: calls are analysed and scored as for
/// [`build_tables`], but no text is redacted and no segment or finding row is made (a
/// sharded run builds the dataset's whole `agents` table this way).
pub fn build_agents(
    store: &Store,
    analyzer: &Analyzer,
    records: &[CallRecord],
) -> anyhow::Result<Vec<AgentRow>> {
    Ok(build(store, analyzer, records, true)?.0.agents)
}

fn build(
    store: &Store,
    analyzer: &Analyzer,
    records: &[CallRecord],
    agents_only: bool,
) -> anyhow::Result<(Tables, TableSummary)> {
    let mut tables = Tables::default();
    let mut summary = TableSummary::default();
    let rules_hash = analyzer.rules_hash().to_string();
    let version = crate::VERSION.to_string();
    let mut scored_calls = Vec::new();
    for record in records {
        let spec = &record.spec;
        let date = call_date(record, analyzer.options.timezone);
        let mut row = CallRow {
            call_id: spec.call_id.clone(),
            agent_id: spec.agent_id.clone(),
            call_date: date,
            started_at: spec.started_at,
            duration_ms: None,
            language: spec.language.clone(),
            layout: None,
            source_sample_rate: None,
            status: "failed".to_string(),
            status_reason: None,
            decode_notes: (!record.decode_notes.is_empty()).then(|| record.decode_notes.join("; ")),
            score: None,
            flagged: false,
            auto_fail: false,
            n_findings: 0,
            n_segments: 0,
            n_dropped_segments: 0,
            n_low_confidence_segments: 0,
            agent_tone: None,
            metrics: BTreeMap::new(),
            audio_sha256: record.audio_sha256.clone(),
            model_id: record.model_id.clone(),
            rules_hash: rules_hash.clone(),
            version: version.clone(),
            path: spec.path.display().to_string(),
        };
        summary.n_calls += 1;
        // A call that failed: its row says why, and so does a row of `failures`.
        let mut fail = |mut row: CallRow, failure: &Failure| {
            row.status_reason = Some(format!("{}: {}", failure.stage, failure.error));
            tables.failures.push(FailureRow {
                call_id: spec.call_id.clone(),
                agent_id: spec.agent_id.clone(),
                call_date: date,
                path: spec.path.display().to_string(),
                stage: failure.stage.clone(),
                error: failure.error.clone(),
                message: failure.message.clone(),
            });
            summary.n_failed += 1;
            tables.calls.push(row);
        };
        let transcript_key = match &record.outcome {
            Outcome::Failed(failure) => {
                fail(row, failure);
                continue;
            }
            Outcome::Transcribed { transcript_key } => transcript_key,
        };
        // A transcript the state folder lost (deleted, or damaged on disk) fails this call, not
        // the tables of every call: the next run over the recording transcribes it again.
        let loaded = match store.load_transcript(transcript_key) {
            Ok(Some(transcript)) => Ok(transcript),
            Ok(None) => Err(("transcript_missing", "is missing".to_string())),
            Err(StoreError::Damaged { message, .. }) => {
                Err(("transcript_damaged", format!("is damaged ({message})")))
            }
            Err(error) => return Err(error.into()),
        };
        let mut transcript = match loaded {
            Ok(transcript) => transcript,
            Err((error, what)) => {
                let failure = Failure {
                    stage: "store".to_string(),
                    error: error.to_string(),
                    message: format!(
                        "{}: its transcript {transcript_key} in the state folder {what}; the \
                         next `callqa run` over this recording transcribes it again",
                        spec.path.display()
                    ),
                };
                summary.analysis_failures.push((
                    spec.call_id.clone(),
                    format!("store: {error} (see `failures`)"),
                ));
                fail(row, &failure);
                continue;
            }
        };
        assign_speakers(&mut transcript, spec.agent_channel);
        let language = spec
            .language
            .clone()
            .or_else(|| transcript.language().map(str::to_string))
            .unwrap_or_else(|| "en".to_string());
        // Rules, scoring and redaction, where a bug on one transcript must fail that call,
        // not the tables of every call (on this night and every night the call is in).
        let computed = catch_panic(|| {
            let analysis = analyzer.analyse(&transcript, spec.language.as_deref());
            // Redacted over the whole call, so a number read across two utterances is caught.
            let segment_texts: Vec<String> = if agents_only {
                Vec::new()
            } else if analyzer.options.keep_personal_data {
                transcript
                    .segments
                    .iter()
                    .map(|segment| segment.text.clone())
                    .collect()
            } else {
                crate::pii::redact_transcript(&transcript, &language)
            };
            // Already redacted where it quotes the transcript; never redacted again.
            let evidence: Vec<String> = analysis
                .findings
                .iter()
                .map(|finding| finding.evidence.clone())
                .collect();
            (analysis, segment_texts, evidence)
        });
        let (analysis, segment_texts, evidence) = match computed {
            Ok(computed) => computed,
            Err(message) => {
                let failure = Failure {
                    stage: "analyse".to_string(),
                    error: "panic".to_string(),
                    message: format!(
                        "{}: callqa hit a bug analysing this call ({message}); the other calls \
                         were analysed. Please report it",
                        spec.path.display()
                    ),
                };
                summary.analysis_failures.push((
                    spec.call_id.clone(),
                    "analyse: panic (a bug in callqa: see `failures`)".to_string(),
                ));
                fail(row, &failure);
                continue;
            }
        };

        row.duration_ms = Some(transcript.duration_ms);
        row.language = Some(language.clone());
        row.layout = Some(transcript.layout.as_str().to_string());
        row.source_sample_rate = Some(transcript.source_sample_rate);
        row.n_segments = transcript.segments.len() as u32;
        row.n_dropped_segments = transcript
            .channels
            .iter()
            .map(|channel| channel.n_dropped_segments)
            .sum();
        row.n_low_confidence_segments = transcript
            .segments
            .iter()
            .filter(|segment| segment.quality != SegmentQuality::Ok)
            .count() as u32;
        row.metrics = analysis
            .measurements
            .metrics
            .iter()
            .filter(|(_, value)| value.is_finite())
            .map(|(name, value)| (name.clone(), *value))
            .collect();
        row.agent_tone = analysis
            .measurements
            .agent_tone
            .map(|tone| tone.as_str().to_string());
        row.n_findings = analysis.findings.len() as u32;
        row.score = analysis.score.score;
        row.flagged = analysis.score.flagged;
        row.auto_fail = analysis.score.auto_fail;
        row.status_reason = analysis.score.status_reason.clone();
        match analysis.score.status {
            CallStatus::Scored => {
                row.status = "scored".to_string();
                summary.n_scored += 1;
            }
            CallStatus::NotScorable => {
                row.status = "not_scorable".to_string();
                summary.n_not_scorable += 1;
            }
        }
        if row.flagged {
            summary.n_flagged += 1;
        }

        let tone_by_segment: BTreeMap<usize, &crate::types::UtteranceTone> = analysis
            .measurements
            .utterances
            .iter()
            .map(|tone| (tone.segment_index, tone))
            .collect();
        for (segment_index, (segment, text)) in
            transcript.segments.iter().zip(segment_texts).enumerate()
        {
            let tone = tone_by_segment.get(&segment_index);
            tables.segments.push(SegmentRow {
                call_id: spec.call_id.clone(),
                agent_id: spec.agent_id.clone(),
                call_date: date,
                segment_index: segment_index as u32,
                speaker: segment.speaker.as_str().to_string(),
                channel: segment.channel,
                start_ms: segment.start_ms,
                end_ms: segment.end_ms,
                text,
                confidence: segment.confidence,
                quality: segment.quality.as_str().to_string(),
                sentiment: tone.map(|tone| tone.sentiment),
                arousal: tone.and_then(|tone| tone.arousal),
            });
        }
        // Counted: the finding lowered the score, as `score_call` and `aggregate_agents` count
        // it (a scored call, a finding against the agent).
        let scored = analysis.score.status == CallStatus::Scored;
        for (finding, evidence) in analysis.findings.iter().zip(evidence) {
            tables.findings.push(FindingRow {
                call_id: spec.call_id.clone(),
                agent_id: spec.agent_id.clone(),
                call_date: date,
                rule_id: finding.rule_id.clone(),
                category: finding.category.as_str().to_string(),
                severity: finding.severity.as_str().to_string(),
                points: finding.points,
                speaker: finding.speaker.as_str().to_string(),
                start_ms: finding.start_ms,
                end_ms: finding.end_ms,
                evidence,
                description: finding.description.clone(),
                counted: scored && finding.counts_against_agent(),
            });
        }
        summary.n_segments += transcript.segments.len();
        summary.n_findings += analysis.findings.len();
        tables.calls.push(row);
        scored_calls.push((spec.agent_id.clone(), date, analysis));
    }
    let aggregate_input: Vec<_> = scored_calls
        .iter()
        .map(|(agent_id, date, analysis)| {
            (
                agent_id.as_str(),
                *date,
                &analysis.score,
                analysis.findings.as_slice(),
            )
        })
        .collect();
    for agent_day in aggregate_agents(&aggregate_input) {
        tables.agents.push(AgentRow {
            agent_id: agent_day.agent_id,
            call_date: agent_day.call_date,
            calls: agent_day.calls,
            scorable: agent_day.scorable,
            mean_score: agent_day.mean_score,
            median_score: agent_day.median_score,
            p10_score: agent_day.p10_score,
            pass_rate: agent_day.pass_rate,
            flagged: agent_day.flagged,
            failures_by_category: agent_day
                .failures_by_category
                .into_iter()
                .map(|(category, count)| (category.as_str().to_string(), count))
                .collect(),
        });
    }
    summary.n_agent_days = tables.agents.len();
    Ok((tables, summary))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{CallSpec, ChannelSide, Layout, Segment, Speaker};

    /// The tables of one stored call in which the customer says her PIN and the agent reads it
    /// back, analysed with `options`: the secret-rule evidence and the segment texts.
    fn pin_call_tables(options: AnalysisOptions) -> (Vec<String>, Vec<String>) {
        let folder = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(folder.path()).expect("store opens");
        let segment = |channel: u16, start_ms: u64, end_ms: u64, text: &str| Segment {
            speaker: if channel == 0 {
                Speaker::Agent
            } else {
                Speaker::Customer
            },
            channel,
            start_ms,
            end_ms,
            text: text.to_string(),
            confidence: 0.9,
            quality: SegmentQuality::Ok,
        };
        let transcript = CallTranscript {
            duration_ms: 20_000,
            layout: Layout::Stereo,
            source_sample_rate: 8000,
            channels: Vec::new(),
            segments: vec![
                segment(0, 100, 2600, "Union Bank, Maria speaking, how can I help?"),
                segment(1, 2700, 5000, "I need to check my PIN, it is 4321."),
                segment(0, 9100, 12000, "Thanks. So your PIN is 4321, correct?"),
                segment(1, 12100, 14000, "Yes, that's right, thank you."),
            ],
        };
        store
            .save_transcript("key", &transcript)
            .expect("transcript saved");
        let record = CallRecord {
            spec: CallSpec {
                call_id: "call".to_string(),
                agent_id: "maria".to_string(),
                path: "call.wav".into(),
                started_at: None,
                agent_channel: Some(ChannelSide::Left),
                language: Some("en".to_string()),
            },
            outcome: Outcome::Transcribed {
                transcript_key: "key".to_string(),
            },
            audio_sha256: None,
            model_id: None,
            asr_settings: None,
            processed_at: chrono::Utc::now(),
            stage_seconds: BTreeMap::new(),
            decode_notes: Vec::new(),
        };
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let analyzer = Analyzer::load(&rules, options).expect("rules load");
        let (tables, _) = build_tables(&store, &analyzer, &[record]).expect("tables");
        let evidence = tables
            .findings
            .iter()
            .filter(|row| row.rule_id == "personal_data.secret_read_out")
            .map(|row| row.evidence.clone())
            .collect();
        let texts = tables.segments.iter().map(|row| row.text.clone()).collect();
        (evidence, texts)
    }

    /// The tables of stored calls of one day, each a transcript (stereo, agent on the left) or
    /// a failure, analysed with the default options.
    /// An utterance: channel (0 the agent), start and end in ms, text.
    pub(crate) type Line<'a> = (u16, u64, u64, &'a str);

    /// A call: id, agent, and its utterances, or `None` for a failed input.
    pub(crate) type TestCall<'a> = (&'a str, &'a str, Option<&'a [Line<'a>]>);

    /// A day of calls (2024-03-15) analysed with the real rules, as a run writes them: each
    /// call a stereo transcript (agent on the left) or a failed input.
    pub(crate) fn analysed_day(calls: &[TestCall<'_>]) -> Tables {
        let folder = tempfile::tempdir().expect("temporary folder");
        let store = Store::open(folder.path()).expect("store opens");
        let started_at = chrono::DateTime::parse_from_rfc3339("2024-03-15T10:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let records: Vec<CallRecord> = calls
            .iter()
            .map(|(call_id, agent_id, lines)| {
                let outcome = match lines {
                    Some(lines) => {
                        let segments = lines
                            .iter()
                            .map(|(channel, start_ms, end_ms, text)| Segment {
                                speaker: if *channel == 0 {
                                    Speaker::Agent
                                } else {
                                    Speaker::Customer
                                },
                                channel: *channel,
                                start_ms: *start_ms,
                                end_ms: *end_ms,
                                text: text.to_string(),
                                confidence: 0.9,
                                quality: SegmentQuality::Ok,
                            })
                            .collect();
                        let transcript = CallTranscript {
                            duration_ms: 30_000,
                            layout: Layout::Stereo,
                            source_sample_rate: 8000,
                            channels: Vec::new(),
                            segments,
                        };
                        store
                            .save_transcript(call_id, &transcript)
                            .expect("transcript saved");
                        Outcome::Transcribed {
                            transcript_key: call_id.to_string(),
                        }
                    }
                    None => Outcome::Failed(Failure {
                        stage: "decode".to_string(),
                        error: "empty".to_string(),
                        message: format!("{call_id}.wav is empty"),
                    }),
                };
                CallRecord {
                    spec: CallSpec {
                        call_id: call_id.to_string(),
                        agent_id: agent_id.to_string(),
                        path: format!("{call_id}.wav").into(),
                        started_at: Some(started_at),
                        agent_channel: Some(ChannelSide::Left),
                        language: Some("en".to_string()),
                    },
                    outcome,
                    audio_sha256: None,
                    model_id: None,
                    asr_settings: None,
                    processed_at: started_at,
                    stage_seconds: BTreeMap::new(),
                    decode_notes: Vec::new(),
                }
            })
            .collect();
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let analyzer = Analyzer::load(&rules, AnalysisOptions::default()).expect("rules load");
        build_tables(&store, &analyzer, &records).expect("tables").0
    }

    /// `counted` marks exactly the findings of scored calls that count against the agent, and
    /// the distinct (call, rule) pairs of counted findings per agent, day and category are the
    /// `agents` table's failures, also where a rule fails twice in one call.
    #[test]
    fn counted_findings_are_the_agents_failures() {
        let rude: &[Line<'_>] = &[
            (0, 100, 2600, "Union Bank, Maria speaking, how can I help?"),
            (1, 2700, 5000, "You idiot, my card is still blocked."),
            (0, 5100, 8000, "You idiot, I told you it takes five days."),
            (1, 8100, 9000, "Excuse me?"),
            (0, 9100, 12000, "What a bunch of idiots. Goodbye."),
        ];
        let short: &[Line<'_>] = &[(0, 100, 1500, "Hello?")];
        let tables = analysed_day(&[
            ("rude", "maria", Some(rude)),
            ("short", "maria", Some(short)),
            ("broken", "maria", None),
        ]);
        let status: BTreeMap<&str, &str> = tables
            .calls
            .iter()
            .map(|call| (call.call_id.as_str(), call.status.as_str()))
            .collect();
        assert_eq!(
            status,
            BTreeMap::from([
                ("broken", "failed"),
                ("rude", "scored"),
                ("short", "not_scorable")
            ])
        );
        // The insult twice in one call: two counted findings, one failure.
        let insults: Vec<&FindingRow> = tables
            .findings
            .iter()
            .filter(|row| row.rule_id == "forbidden.insult")
            .collect();
        assert_eq!(insults.len(), 2, "{insults:#?}");
        assert!(
            insults
                .iter()
                .all(|row| row.counted && row.call_id == "rude")
        );
        assert!(
            tables
                .findings
                .iter()
                .any(|row| row.call_id == "short" && row.severity != "info"),
            "{:#?}",
            tables.findings
        );
        for row in &tables.findings {
            let counts_against = row.speaker != "customer" && row.severity != "info";
            assert_eq!(
                row.counted,
                status[row.call_id.as_str()] == "scored" && counts_against,
                "{row:#?}"
            );
        }
        // The README's query: distinct (call_id, rule_id) of counted findings.
        let mut failures: BTreeMap<(&str, NaiveDate, &str), u32> = BTreeMap::new();
        let distinct: std::collections::BTreeSet<(&str, NaiveDate, &str, &str, &str)> = tables
            .findings
            .iter()
            .filter(|row| row.counted)
            .map(|row| {
                (
                    row.agent_id.as_str(),
                    row.call_date,
                    row.category.as_str(),
                    row.call_id.as_str(),
                    row.rule_id.as_str(),
                )
            })
            .collect();
        for (agent_id, call_date, category, _, _) in distinct {
            *failures.entry((agent_id, call_date, category)).or_default() += 1;
        }
        let mut from_agents: BTreeMap<(&str, NaiveDate, &str), u32> = BTreeMap::new();
        for agent in &tables.agents {
            assert_eq!(agent.calls, 2, "failed inputs are not calls of `agents`");
            for (category, count) in &agent.failures_by_category {
                if *count > 0 {
                    from_agents.insert((&agent.agent_id, agent.call_date, category), *count);
                }
            }
        }
        assert_eq!(failures, from_agents);
        assert_eq!(
            failures[&("maria", insults[0].call_date, "forbidden_language")],
            1
        );
    }

    /// Evidence is written as the rules redacted it: the clock and machine-written numbers
    /// next to "PIN" stay, the PIN does not.
    #[test]
    fn analyse_writes_evidence_without_a_second_redaction() {
        let (evidence, texts) = pin_call_tables(AnalysisOptions::default());
        assert_eq!(
            evidence,
            vec![
                "secret code or password said aloud: agent 0:09: \"Thanks. So your PIN is «[SECRET]», correct?\""
            ]
        );
        assert_eq!(texts[1], "I need to check my PIN, it is [SECRET].");
    }

    /// A site that keeps personal data gets it in the evidence as in the segment beside it:
    /// an auditor checking the finding against the audio sees the words that were said.
    #[test]
    fn keeping_personal_data_keeps_it_in_evidence_too() {
        let (evidence, texts) = pin_call_tables(AnalysisOptions {
            keep_personal_data: true,
            ..AnalysisOptions::default()
        });
        assert_eq!(
            evidence,
            vec![
                "secret code or password said aloud: agent 0:09: \"Thanks. So your PIN is «4321», correct?\""
            ]
        );
        assert_eq!(texts[1], "I need to check my PIN, it is 4321.");
    }
}
