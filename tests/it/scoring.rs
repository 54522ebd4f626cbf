//! Rulebooks and scores end to end on the audio fixtures: the right categories on the right
//! calls, agents ranked by conduct, personal data never written, and `rescore` without audio.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;

use crate::batch::{copy_dataset, fixture_run};
use crate::support::{read_table, repository_root, rows_where, stderr_of, strings};

/// Categories of the findings that cost the agent points, per call.
fn penalised_categories(out: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let findings = read_table(out, "findings");
    let points: Vec<f64> = findings
        .column("points")
        .unwrap()
        .f64()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let mut categories: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((call_id, category), points) in strings(&findings, "call_id")
        .into_iter()
        .zip(strings(&findings, "category"))
        .zip(points)
    {
        if points > 0.0 {
            categories
                .entry(call_id.unwrap())
                .or_default()
                .insert(category.unwrap());
        }
    }
    categories
}

fn score_of(calls: &DataFrame, call_id: &str) -> Option<f64> {
    rows_where(calls, "call_id", call_id)
        .column("score")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
}

/// A polite call scores high with no findings; a call without a greeting, one with an
/// insult and one without a closing each get exactly the expected category.
#[test]
fn scenario_calls_get_exactly_their_category() {
    let run = fixture_run();
    let categories = penalised_categories(&run.out);
    let expected: [(&str, &[&str]); 4] = [
        ("c01_polite", &[]),
        ("c02_no_greeting", &["greeting"]),
        ("c03_insult", &["forbidden_language"]),
        ("c04_no_closing", &["closing"]),
    ];
    for (call_id, expected_categories) in expected {
        let found: Vec<&str> = categories
            .get(call_id)
            .map(|set| set.iter().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(found, expected_categories, "{call_id}");
    }
    let calls = read_table(&run.out, "calls");
    assert_eq!(score_of(&calls, "c01_polite"), Some(100.0));
    let insult_score = score_of(&calls, "c03_insult").unwrap();
    assert!(insult_score < 100.0);
    let flagged = rows_where(&calls, "call_id", "c03_insult")
        .column("flagged")
        .unwrap()
        .bool()
        .unwrap()
        .get(0);
    assert_eq!(flagged, Some(true), "an insult is a major finding");
}

/// The customer reads a card number and the agent repeats it: a personal-data finding, and
/// no digit of the card in any Parquet file, the report, the run manifest or the log.
#[test]
fn card_number_is_found_and_never_written() {
    let run = fixture_run();
    let categories = penalised_categories(&run.out);
    assert!(
        categories
            .get("c05_card_number")
            .is_some_and(|set| set.contains("personal_data")),
        "{categories:?}"
    );
    let findings = read_table(&run.out, "findings");
    let card_findings = rows_where(
        &rows_where(&findings, "call_id", "c05_card_number"),
        "category",
        "personal_data",
    );
    assert_eq!(
        strings(&card_findings, "speaker")[0].as_deref(),
        Some("agent")
    );

    let forbidden = ["4111", "1111", "one one one one"];
    let mut checked_files = 0;
    let mut pending = vec![run.out.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                // The owner-only run state keeps raw text for rescoring, by design.
                if name != ".callqa" {
                    pending.push(path);
                }
                continue;
            }
            let text = if name.ends_with(".parquet") {
                // Every text cell of the file (numbers such as times may hold any digits).
                let frame = ParquetReader::new(std::fs::File::open(&path).unwrap())
                    .finish()
                    .unwrap();
                let mut cells = String::new();
                for column in frame.get_columns() {
                    if let Ok(values) = column.str() {
                        for value in values.into_iter().flatten() {
                            cells.push_str(value);
                            cells.push('\n');
                        }
                    }
                }
                cells
            } else {
                std::fs::read_to_string(&path).unwrap()
            };
            let lowered = text.to_lowercase();
            for digits in forbidden {
                assert!(
                    !lowered.contains(digits),
                    "{} holds {digits:?}",
                    path.display()
                );
            }
            checked_files += 1;
        }
    }
    assert!(checked_files >= 10);
    for digits in forbidden {
        assert!(!run.stderr.contains(digits), "the log holds {digits:?}");
    }
    let segments = read_table(&run.out, "segments");
    let texts: Vec<String> = strings(&rows_where(&segments, "call_id", "c05_card_number"), "text")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        texts.iter().any(|text| text.contains("[CARD]")),
        "{texts:?}"
    );
}

/// An agent with polite calls ranks above one with rude calls.
#[test]
fn polite_agent_ranks_above_rude_agent() {
    let run = fixture_run();
    let agents = read_table(&run.out, "agents");
    let calls = read_table(&run.out, "calls");
    let agent_of = |call_id: &str| {
        strings(&rows_where(&calls, "call_id", call_id), "agent_id")[0]
            .clone()
            .unwrap()
    };
    let polite_agent = agent_of("c01_polite");
    let rude_agent = agent_of("c03_insult");
    assert_ne!(polite_agent, rude_agent);
    let mean_of = |agent: &str| -> f64 {
        let rows = rows_where(&agents, "agent_id", agent);
        let means = rows.column("mean_score").unwrap().f64().unwrap();
        let scorable = rows.column("scorable").unwrap().u32().unwrap();
        let (sum, count) = means
            .into_iter()
            .zip(scorable)
            .filter_map(|(mean, count)| Some((mean? * f64::from(count?), f64::from(count?))))
            .fold((0.0, 0.0), |(sum, total), (value, count)| {
                (sum + value, total + count)
            });
        sum / count
    };
    assert!(
        mean_of(&polite_agent) > mean_of(&rude_agent),
        "{polite_agent} {} vs {rude_agent} {}",
        mean_of(&polite_agent),
        mean_of(&rude_agent)
    );
}

/// After a rule edit, `rescore` changes the scores without audio or model.
#[test]
fn rescore_applies_edited_rules_without_transcribing() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    let rules = folder.path().join("rules");
    copy_dataset(&repository_root().join("rules"), &rules);
    // Make a missing greeting far more expensive.
    let english = rules.join("en.toml");
    let text = std::fs::read_to_string(&english).unwrap();
    let edited = text.replacen(
        "id = \"greeting.hello\"\ncategory = \"greeting\"\ndescription = \"The agent greets the customer in their first utterances\"\nseverity = \"minor\"\npoints = 5",
        "id = \"greeting.hello\"\ncategory = \"greeting\"\ndescription = \"The agent greets the customer in their first utterances\"\nseverity = \"minor\"\npoints = 40",
        1,
    );
    assert_ne!(
        text, edited,
        "the rule to edit is where the test expects it"
    );
    std::fs::write(&english, edited).unwrap();
    // Hide the audio and the model: rescoring must need neither.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_callqa"))
        .args([
            "rescore",
            "--out",
            out.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ])
        .env("CALLQA_MODEL", "/nonexistent/model.bin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let before = read_table(&run.out, "calls");
    let after = read_table(&out, "calls");
    let old = score_of(&before, "c02_no_greeting").unwrap();
    let new = score_of(&after, "c02_no_greeting").unwrap();
    assert!((old - new - 35.0).abs() < 1e-9, "score {old} → {new}");
    assert_eq!(
        score_of(&before, "c01_polite"),
        score_of(&after, "c01_polite")
    );
    let hashes = strings(&after, "rules_hash");
    assert!(
        hashes
            .iter()
            .all(|hash| hash != &strings(&before, "rules_hash")[0])
    );
    // No new run manifest: nothing was transcribed.
    assert_eq!(std::fs::read_dir(out.join("runs")).unwrap().count(), 1);
}
