//! Data-driven tests of the default rulebooks, and of loading and checking rule directories.
//!
//! `testdata/<lang>.calls` holds whole calls written the way Whisper writes them, each with the
//! rule ids it must produce (all of them, nothing else), optionally its score and strings that
//! must never appear in evidence (the digits or words of a card). The rulebooks are the ones
//! in the crate's `rules/` directory, so these tests also guard the default content.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::example::parse_example;
use super::*;
use crate::score::{ScoringConfig, score_call};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

fn default_rules() -> RuleSet {
    RuleSet::load(&rules_dir()).unwrap_or_else(|error| panic!("{error}"))
}

/// One `=== name` block of a `.calls` file.
struct CallCase {
    name: String,
    expect: BTreeSet<String>,
    score: Option<f64>,
    forbid: Vec<String>,
    transcript: String,
}

fn parse_cases(text: &str) -> Vec<CallCase> {
    let mut cases: Vec<CallCase> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(CallCase {
                name: name.trim().to_string(),
                expect: BTreeSet::new(),
                score: None,
                forbid: Vec::new(),
                transcript: String::new(),
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue;
        };
        let split = |list: &str| -> Vec<String> {
            list.split('|')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()
        };
        if let Some(ids) = line.strip_prefix("expect:") {
            case.expect = split(ids).into_iter().collect();
        } else if let Some(score) = line.strip_prefix("score:") {
            case.score = Some(score.trim().parse().expect("score is a number"));
        } else if let Some(forbidden) = line.strip_prefix("forbid:") {
            case.forbid = split(forbidden);
        } else {
            case.transcript.push_str(line);
            case.transcript.push('\n');
        }
    }
    cases
}

fn run_calls(language: &str) {
    let rules = default_rules();
    let rulebook = rules.for_language(Some(language));
    assert_eq!(rulebook.language(), Some(language));
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/rules/testdata")
        .join(format!("{language}.calls"));
    let text = fs_err::read_to_string(&path).expect("test data is readable");
    let cases = parse_cases(&text);
    assert!(cases.len() >= 5, "{} has too few cases", path.display());
    let mut failures = Vec::new();
    for case in cases {
        let call = parse_example(&case.transcript)
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        let findings = evaluate(rulebook, &call.transcript, &call.measurements);
        let found: BTreeSet<String> = findings
            .iter()
            .map(|finding| finding.rule_id.clone())
            .collect();
        let report = || {
            findings
                .iter()
                .map(|finding| {
                    format!(
                        "    {} [{} {}] {}",
                        finding.rule_id,
                        finding.severity,
                        finding.speaker.as_str(),
                        finding.evidence
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        // `CALLQA_DUMP_FINDINGS=1 cargo test` shows every case's findings, to review evidence.
        if std::env::var_os("CALLQA_DUMP_FINDINGS").is_some() {
            println!("{language}: {}\n{}", case.name, report());
        }
        if found != case.expect {
            failures.push(format!(
                "{language}: {}: expected {:?}, found:\n{}",
                case.name,
                case.expect,
                report()
            ));
        }
        for forbidden in &case.forbid {
            if findings
                .iter()
                .any(|finding| finding.evidence.contains(forbidden.as_str()))
            {
                failures.push(format!(
                    "{language}: {}: evidence contains {forbidden:?}:\n{}",
                    case.name,
                    report()
                ));
            }
        }
        if let Some(expected) = case.score {
            let score = score_call(&call.transcript, &findings, &ScoringConfig::default());
            if score.score != Some(expected) {
                failures.push(format!(
                    "{language}: {}: expected score {expected}, got {score:?}:\n{}",
                    case.name,
                    report()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn english_calls() {
    run_calls("en");
}

#[test]
fn spanish_calls() {
    run_calls("es");
}

#[test]
fn russian_calls() {
    run_calls("ru");
}

#[test]
fn polish_calls() {
    run_calls("pl");
}

#[test]
fn chinese_calls() {
    run_calls("zh");
}

#[test]
fn persian_calls() {
    run_calls("fa");
}

#[test]
fn default_rules_check_clean() {
    let report = check(&rules_dir());
    assert!(
        report.diagnostics.is_empty(),
        "rules check is not clean:\n{report}"
    );
    assert!(report.n_examples >= 200, "{report}");
    // Every language has a rule in every text category.
    let rules = default_rules();
    for language in ["en", "es", "ru", "pl", "zh", "fa"] {
        let categories: BTreeSet<Category> = rules
            .for_language(Some(language))
            .rules()
            .iter()
            .map(|rule| rule.category)
            .collect();
        assert_eq!(
            categories.len(),
            Category::ALL.len(),
            "{language}: {categories:?}"
        );
    }
}

/// Writes a rules directory with one broken language file.
fn broken_rules_dir(rule_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs_err::write(
        dir.path().join("en.toml"),
        format!(
            "language = \"en\"\n\n[[rule]]\nid = \"greeting.ok\"\ncategory = \"greeting\"\n\
             description = \"fine\"\nseverity = \"minor\"\npoints = 5\nmust = {{ phrases = [\"hello\"] }}\n\n{rule_toml}"
        ),
    )
    .expect("write rule file");
    dir
}

#[test]
fn broken_file_reports_file_line_and_rule_id() {
    // An unknown key (typo) on line 17, inside the rule "closing.bad" that starts on line 11.
    let dir = broken_rules_dir(
        "[[rule]]\nid = \"closing.bad\"\ncategory = \"closing\"\ndescription = \"typo\"\n\
         severity = \"minor\"\npoints = 5\nmust_nto = { phrases = [\"bye\"] }\n",
    );
    let report = check(dir.path());
    assert!(!report.is_ok());
    let line = report.diagnostics[0].to_string();
    let expected_prefix = format!(
        "{}:17: closing.bad: unknown field `must_nto`",
        dir.path().join("en.toml").display()
    );
    assert!(line.starts_with(&expected_prefix), "{line}");

    // The same through RuleSet::load, which refuses to load.
    let error = RuleSet::load(dir.path()).unwrap_err().to_string();
    assert!(error.contains(":17: closing.bad: unknown field"), "{error}");
}

#[test]
fn semantic_errors_name_the_rule() {
    let dir = broken_rules_dir(
        "[[rule]]\nid = \"forbidden.bad\"\ncategory = \"forbidden_language\"\ndescription = \"d\"\n\
         severity = \"major\"\npoints = 5\nmust_not = { lexicons = [\"nope\"], patterns = [\"(open\"] }\n\n\
         [[rule]]\nid = \"greeting.ok\"\ncategory = \"greeting\"\ndescription = \"dup\"\n\
         severity = \"minor\"\npoints = 5\nmetric = \"answer_dely_ms\"\nmax = 5\n",
    );
    let report = check(dir.path());
    let text = report.to_string();
    for expected in [
        ":11: forbidden.bad: unknown lexicon 'nope'",
        ":11: forbidden.bad: bad regex /(open/",
        ":19: greeting.ok: duplicate rule id (first defined at",
        "greeting.ok: warning: no positive example",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The unknown metric of the duplicate is not reached (duplicates are dropped), so check
    // it on its own.
    let dir = broken_rules_dir(
        "[[rule]]\nid = \"answer_delay.bad\"\ncategory = \"answer_delay\"\ndescription = \"d\"\n\
         severity = \"minor\"\npoints = 5\nmetric = \"answer_dely_ms\"\nmax = 5\n",
    );
    let text = check(dir.path()).to_string();
    assert!(
        text.contains(":11: answer_delay.bad: unknown metric 'answer_dely_ms'"),
        "{text}"
    );
}

#[test]
fn failing_examples_are_reported() {
    let dir = broken_rules_dir(
        "[[rule]]\nid = \"closing.bye\"\ncategory = \"closing\"\ndescription = \"d\"\n\
         severity = \"minor\"\npoints = 5\nwindow = { last_utterances = 1 }\nmust = { phrases = [\"bye\"] }\n\
         [rule.examples]\npositive = [\"agent: ok bye\"]\nnegative = [\"agent: hello\"]\n",
    );
    let report = check(dir.path());
    assert_eq!(report.n_examples_failed, 2, "{report}");
    let text = report.to_string();
    assert!(
        text.contains(":11: closing.bye: positive example 1: produced no finding"),
        "{text}"
    );
    assert!(
        text.contains(":11: closing.bye: negative example 1: produced a finding"),
        "{text}"
    );
}

#[test]
fn unknown_language_gets_shared_rules_with_a_note() {
    let rules = default_rules();
    let fallback = rules.for_language(Some("it"));
    assert_eq!(fallback.language(), None);
    assert!(!fallback.notes().is_empty());
    assert!(
        fallback
            .rules()
            .iter()
            .all(|rule| rule.source.path.to_string_lossy().contains("shared"))
    );
    assert_eq!(rules.for_language(Some("es-MX")).language(), Some("es"));
    assert_eq!(rules.for_language(None).language(), None);
    // zh has its own speech-rate rule instead of the shared one.
    let zh_rate: Vec<_> = rules
        .for_language(Some("zh"))
        .rules()
        .iter()
        .filter(|rule| rule.id == "speech_rate.agent_fast")
        .collect();
    assert_eq!(zh_rate.len(), 1);
    assert!(zh_rate[0].source.path.ends_with("zh.toml"));
}

#[test]
fn hash_is_stable_and_follows_content() {
    let first = default_rules().hash().to_string();
    assert_eq!(first, default_rules().hash());
    assert_eq!(first.len(), 64);
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = |from: &Path, to: &Path| {
        for entry in walk(from) {
            let relative = entry.strip_prefix(from).expect("inside");
            let target = to.join(relative);
            fs_err::create_dir_all(target.parent().expect("has parent")).expect("mkdir");
            fs_err::copy(&entry, &target).expect("copy");
        }
    };
    copy(&rules_dir(), dir.path());
    assert_eq!(RuleSet::load(dir.path()).expect("copy loads").hash(), first);
    let lexicon = dir.path().join("lexicons/en/greetings.txt");
    let mut text = fs_err::read_to_string(&lexicon).expect("read");
    text.push_str("howdy\n");
    fs_err::write(&lexicon, text).expect("write");
    let changed = RuleSet::load(dir.path()).expect("still loads");
    assert_ne!(changed.hash(), first);
    // Only the English rulebook depends on that lexicon.
    let original = default_rules();
    assert_ne!(
        changed.for_language(Some("en")).hash(),
        original.for_language(Some("en")).hash()
    );
    assert_eq!(
        changed.for_language(Some("es")).hash(),
        original.for_language(Some("es")).hash()
    );
}

/// A lexicon reached through a symbolic link (a site sharing one lexicon folder between
/// rulebook folders) is part of the hash as it is part of the rules: editing it changes the
/// hash, so the dataset's days are analysed again.
#[cfg(unix)]
#[test]
fn hash_follows_symbolic_links_as_the_loaders_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let shared = tempfile::tempdir().expect("temporary directory");
    for entry in walk(&rules_dir()) {
        let relative = entry.strip_prefix(rules_dir()).expect("inside");
        let target = if relative.starts_with("lexicons/en") {
            shared
                .path()
                .join(relative.strip_prefix("lexicons/en").expect("inside"))
        } else {
            dir.path().join(relative)
        };
        fs_err::create_dir_all(target.parent().expect("has parent")).expect("mkdir");
        fs_err::copy(&entry, &target).expect("copy");
    }
    std::os::unix::fs::symlink(shared.path(), dir.path().join("lexicons/en")).expect("link");
    let linked = RuleSet::load(dir.path()).expect("linked rules load");
    assert_eq!(linked.hash(), default_rules().hash());
    let lexicon = shared.path().join("greetings.txt");
    let mut text = fs_err::read_to_string(&lexicon).expect("read");
    text.push_str("howdy\n");
    fs_err::write(&lexicon, text).expect("write");
    let changed = RuleSet::load(dir.path()).expect("still loads");
    assert_ne!(changed.hash(), linked.hash());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn findings_are_deterministic_and_redacted() {
    let rules = default_rules();
    let call = parse_example(
        "@metric answer_delay_ms = 9000\n@event silence 0:20-0:40\n\
         agent: So that's 4111 1111 1111 1111 and the CVV is 123, you idiot.\n\
         customer: My card is 4111 1111 1111 1111.",
    )
    .expect("parses");
    let rulebook = rules.for_language(Some("en"));
    let first = evaluate(rulebook, &call.transcript, &call.measurements);
    let second = evaluate(rulebook, &call.transcript, &call.measurements);
    assert_eq!(first, second);
    assert!(
        first
            .iter()
            .any(|finding| finding.rule_id == "personal_data.card_read_out")
    );
    assert!(
        first
            .iter()
            .any(|finding| finding.rule_id == "personal_data.secret_read_out")
    );
    for finding in &first {
        assert!(
            !finding.evidence.contains("4111") && !finding.evidence.contains("1111"),
            "{}",
            finding.evidence
        );
        assert!(!finding.evidence.contains("123,"), "{}", finding.evidence);
    }
    let card = first
        .iter()
        .find(|finding| finding.rule_id == "personal_data.card_read_out")
        .expect("card finding");
    assert!(card.evidence.contains("«[CARD]»"), "{}", card.evidence);
    assert_eq!(card.speaker, FindingSpeaker::Agent);
    assert_eq!(card.severity, Severity::Critical);
}

#[test]
fn schema_json_lists_every_key() {
    let text = fs_err::read_to_string(rules_dir().join("schema.json")).expect("schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let keys = |pointer: &str| -> BTreeSet<String> {
        schema
            .pointer(pointer)
            .and_then(|value| value.as_object())
            .unwrap_or_else(|| panic!("{pointer} missing"))
            .keys()
            .cloned()
            .collect()
    };
    let rule_keys: BTreeSet<String> = schema::RULE_KEYS
        .iter()
        .map(|key| key.to_string())
        .collect();
    assert_eq!(keys("/definitions/rule/properties"), rule_keys);
    let match_keys: BTreeSet<String> = schema::MATCH_KEYS
        .iter()
        .map(|key| key.to_string())
        .collect();
    assert_eq!(keys("/definitions/match/properties"), match_keys);
    let categories: BTreeSet<String> = schema
        .pointer("/definitions/rule/properties/category/enum")
        .and_then(|value| value.as_array())
        .expect("category enum")
        .iter()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = Category::ALL
        .iter()
        .map(|category| category.as_str().to_string())
        .collect();
    assert_eq!(categories, expected);
    let metrics: BTreeSet<String> = schema
        .pointer("/definitions/rule/properties/metric/enum")
        .and_then(|value| value.as_array())
        .expect("metric enum")
        .iter()
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = KNOWN_METRICS
        .iter()
        .map(|metric| metric.to_string())
        .collect();
    assert_eq!(metrics, expected);
}

/// A rulebook using every rule kind and option the defaults do not: the examples are the
/// assertions, `check` runs them.
const EVERY_KIND: &str = r#"
language = "en"

[[rule]]
id = "tone.customer_outburst"
category = "tone"
description = "The customer sounds angry in an utterance"
severity = "info"
points = 0
speaker = "customer"
tone = { sentiment_below = -0.6, arousal_above = 0.7 }
[rule.examples]
positive = ["customer: This is outrageous! {sentiment=-0.8 arousal=0.9}"]
negative = ["customer: This is outrageous! {sentiment=-0.8 arousal=0.2}", "customer: Fine. {sentiment=0.5 arousal=0.9}", "customer: No arousal measured. {sentiment=-0.9}"]

[[rule]]
id = "disclosure.before_card"
category = "disclosure"
description = "The recording is announced before card details are asked for"
severity = "major"
points = 10
order = { first = { phrases = ["recorded"] }, then = { phrases = ["card number"] } }
[rule.examples]
positive = ["agent: What is your card number?\nagent: This call is recorded.", "agent: What is your card number?"]
negative = ["agent: This call is recorded.\nagent: What is your card number?", "agent: Hello."]

[[rule]]
id = "closing.in_last_seconds"
category = "closing"
description = "Goodbye in the last 10 seconds"
severity = "minor"
points = 5
window = { last_seconds = 10 }
must = { phrases = ["goodbye"] }
[rule.examples]
positive = ["[0:01-0:03] agent: goodbye\n[0:30-0:33] agent: one more thing"]
negative = ["[0:01-0:03] agent: hello\n[0:30-0:33] agent: ok goodbye"]

[[rule]]
id = "greeting.in_first_seconds"
category = "greeting"
description = "Hello in the first 5 seconds, prefix and wildcard phrases"
severity = "minor"
points = 5
window = { first_seconds = 5 }
must = { phrases = ["hell*", "my name is *"] }
[rule.examples]
positive = ["[0:10-0:12] agent: hello", "[0:01-0:02] agent: my name is"]
negative = ["[0:01-0:03] agent: Hellooo!", "[0:01-0:03] agent: My name is Bond."]

[[rule]]
id = "overtalk.any_interruption"
category = "overtalk"
description = "Any interruption by the agent; on a mono call it cannot be attributed"
severity = "minor"
points = 5
speaker = "agent"
event = "interruption"
[rule.examples]
positive = ["@event interruption agent 0:10-0:11\nagent: sorry", "@layout mono\n@event interruption unknown 0:10-0:11\nunknown: sorry"]
negative = ["@event interruption customer 0:10-0:11\nagent: go on", "@event overtalk agent 0:10-0:11\nagent: go on"]

[[rule]]
id = "forbidden.regex_and_fuzzy"
category = "forbidden_language"
description = "Patterns on normalised text and fuzzy words"
severity = "major"
points = 10
must_not = { patterns = ['\bnot (my|our) (job|department)\b'], phrases = ["ridiculous"], fuzzy = 1 }
[rule.examples]
positive = ["agent: That's NOT our department.", "agent: This is ridiculus."]
negative = ["agent: It's not a job for us, but I'll help.", "customer: This is ridiculous."]

[[rule]]
id = "personal_data.email"
category = "personal_data"
description = "The agent reads an e-mail address aloud"
severity = "minor"
points = 5
personal_data = { kinds = ["email"] }
[rule.examples]
positive = ["agent: I have anna dot k at example dot com on file."]
negative = ["agent: I have your e-mail on file."]

[[rule]]
id = "greeting.disabled"
category = "greeting"
description = "A disabled rule is still checked but not applied"
severity = "minor"
points = 5
enabled = false
must = { phrases = ["zzz"] }
[rule.examples]
positive = ["agent: hello"]
negative = ["agent: zzz"]
"#;

#[test]
fn every_rule_kind_and_option() {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs_err::write(dir.path().join("en.toml"), EVERY_KIND).expect("write");
    let report = check(dir.path());
    assert!(report.diagnostics.is_empty(), "{report}");
    assert_eq!(report.n_examples, 26, "{report}");
    let rules = RuleSet::load(dir.path()).expect("loads");
    let rulebook = rules.for_language(Some("en"));
    assert!(
        !rulebook
            .rules()
            .iter()
            .any(|rule| rule.id == "greeting.disabled")
    );
    assert_eq!(rulebook.rules().len(), 7);
}

#[test]
fn mono_absences_count_and_presences_do_not() {
    let rules = default_rules();
    let call = parse_example(
        "@layout mono\n[0:01-0:05] unknown: Acme Bank, Sarah speaking, calls are recorded.\n\
         unknown: You idiots!\n[0:20-0:30] unknown: Sorry about that, fixed. Thank you, goodbye.",
    )
    .expect("parses");
    let findings = evaluate(
        rules.for_language(Some("en")),
        &call.transcript,
        &call.measurements,
    );
    let greeting = findings
        .iter()
        .find(|finding| finding.rule_id == "greeting.hello")
        .expect("no greeting on the mono call");
    assert_eq!(
        (greeting.speaker, greeting.severity),
        (FindingSpeaker::Unknown, Severity::Minor)
    );
    assert!(greeting.counts_against_agent());
    let insult = findings
        .iter()
        .find(|finding| finding.rule_id == "forbidden.insult")
        .expect("insult reported");
    assert_eq!(
        (insult.speaker, insult.severity, insult.points),
        (FindingSpeaker::Unknown, Severity::Info, 0.0)
    );
    assert!(insult.evidence.starts_with("not scored (speaker unknown"));
    let score = score_call(&call.transcript, &findings, &ScoringConfig::default());
    assert_eq!(score.score, Some(95.0));
}

#[test]
fn timing_and_tone_findings_point_at_the_moment() {
    let rules = default_rules();
    let mut call = parse_example(
        "@metric answer_delay_ms = 9000\n@metric agent_words_per_minute = 150\n\
         @agent_tone agitated; +8.1 dB louder than own baseline\n\
         [0:09-0:14] agent: Good morning, Acme Bank, Anna speaking, calls are recorded.\n\
         [0:40-0:44] agent: This is ridiculous, what a nightmare.",
    )
    .expect("parses");
    let rulebook = rules.for_language(Some("en"));
    let time_of = |findings: &[Finding], rule_id: &str| {
        let finding = findings
            .iter()
            .find(|finding| finding.rule_id == rule_id)
            .unwrap_or_else(|| panic!("no {rule_id} in {findings:?}"));
        (finding.start_ms, finding.end_ms)
    };
    // Without a place in the call, the findings have no time (as written by rule examples).
    let findings = evaluate(rulebook, &call.transcript, &call.measurements);
    assert_eq!(time_of(&findings, "answer_delay.first_word"), (None, None));
    assert_eq!(time_of(&findings, "tone.agent_agitated"), (None, None));
    // With one, they point at it: the recording up to the first word, the agitated turn.
    call.measurements
        .metric_spans
        .insert("answer_delay_ms".to_string(), (0, 9_000));
    call.measurements.agent_tone_span = Some((40_000, 44_000));
    let findings = evaluate(rulebook, &call.transcript, &call.measurements);
    assert_eq!(
        time_of(&findings, "answer_delay.first_word"),
        (Some(0), Some(9_000))
    );
    assert_eq!(
        time_of(&findings, "tone.agent_agitated"),
        (Some(40_000), Some(44_000))
    );
}

/// A customer who ends the call upset: the finding points at the utterances averaged and
/// quotes the most negative of them with the words that scored it.
#[test]
fn a_sentiment_finding_points_at_and_quotes_the_utterance_behind_it() {
    let rules = default_rules();
    let mut call = parse_example(
        "@metric customer_sentiment_end = -0.8\n\
         [0:02-0:05] customer: My transfer is missing.\n\
         [0:10-0:12] agent: I am sorry, let me check.\n\
         [0:13-0:15] customer: You are very rude.\n\
         [0:16-0:18] customer: Okay, bye.",
    )
    .expect("parses");
    call.measurements
        .metric_spans
        .insert("customer_sentiment_end".to_string(), (13_000, 18_000));
    for (segment_index, sentiment, terms) in [(2, -0.98, vec!["rude"]), (3, -0.1, vec!["bye"])] {
        call.measurements
            .utterances
            .push(crate::types::UtteranceTone {
                segment_index,
                sentiment,
                sentiment_terms: terms.into_iter().map(String::from).collect(),
                arousal: None,
                arousal_reasons: Vec::new(),
            });
    }
    let findings = evaluate(
        rules.for_language(Some("en")),
        &call.transcript,
        &call.measurements,
    );
    let finding = findings
        .iter()
        .find(|finding| finding.rule_id == "tone.customer_upset_at_end")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert_eq!(
        (finding.start_ms, finding.end_ms),
        (Some(13_000), Some(18_000))
    );
    assert!(
        finding
            .evidence
            .ends_with("; most negative: customer 0:13: \"You are very rude.\" (words: rude)"),
        "{}",
        finding.evidence
    );
}

/// `speaker = "any"` on a mono call: the words of an unattributed segment may be the
/// customer's, so a forbidden phrase there is reported, not scored (as under a speaker scope),
/// while on a stereo call the agent's own words still count.
#[test]
fn any_scope_does_not_score_unattributed_mono_speech() {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs_err::write(
        dir.path().join("en.toml"),
        "language = \"en\"\n\n[[rule]]\nid = \"forbidden.any\"\ncategory = \"forbidden_language\"\n\
         description = \"d\"\nseverity = \"critical\"\npoints = 50\nspeaker = \"any\"\n\
         must_not = { phrases = [\"idiot\"] }\n",
    )
    .expect("write");
    let rules = RuleSet::load(dir.path()).expect("loads");
    let rulebook = rules.for_language(Some("en"));
    let mono = parse_example("@layout mono\n[0:01-0:12] unknown: You idiot, you blocked my card!")
        .expect("parses");
    let findings = evaluate(rulebook, &mono.transcript, &mono.measurements);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(
        (finding.speaker, finding.severity, finding.points),
        (FindingSpeaker::Unknown, Severity::Info, 0.0)
    );
    assert!(finding.evidence.starts_with("not scored (speaker unknown"));
    assert!(!finding.counts_against_agent());
    let score = score_call(&mono.transcript, &findings, &ScoringConfig::default());
    assert_eq!(score.score, Some(100.0), "{score:?}");

    let stereo = parse_example("agent: You idiot, you blocked my card!").expect("parses");
    let findings = evaluate(rulebook, &stereo.transcript, &stereo.measurements);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        (findings[0].speaker, findings[0].severity),
        (FindingSpeaker::Agent, Severity::Critical)
    );
    assert!(findings[0].counts_against_agent());
}

/// Simplified → traditional for every character of the default Chinese rulebook that is
/// written differently in traditional script. Independent of the table under test
/// (`normalize::TRADITIONAL`): a rule written in simplified characters must match a transcript
/// Whisper wrote in traditional ones.
const TO_TRADITIONAL: &[(char, char)] = &[
    ('万', '萬'),
    ('与', '與'),
    ('丢', '丟'),
    ('个', '個'),
    ('为', '為'),
    ('么', '麼'),
    ('买', '買'),
    ('争', '爭'),
    ('于', '於'),
    ('们', '們'),
    ('会', '會'),
    ('体', '體'),
    ('余', '餘'),
    ('关', '關'),
    ('兴', '興'),
    ('内', '內'),
    ('冻', '凍'),
    ('几', '幾'),
    ('则', '則'),
    ('别', '別'),
    ('制', '製'),
    ('办', '辦'),
    ('务', '務'),
    ('卧', '臥'),
    ('号', '號'),
    ('后', '後'),
    ('吗', '嗎'),
    ('听', '聽'),
    ('场', '場'),
    ('处', '處'),
    ('复', '復'),
    ('头', '頭'),
    ('妈', '媽'),
    ('实', '實'),
    ('对', '對'),
    ('将', '將'),
    ('属', '屬'),
    ('帮', '幫'),
    ('废', '廢'),
    ('开', '開'),
    ('录', '錄'),
    ('恶', '惡'),
    ('户', '戶'),
    ('报', '報'),
    ('挂', '掛'),
    ('换', '換'),
    ('无', '無'),
    ('时', '時'),
    ('机', '機'),
    ('来', '來'),
    ('欢', '歡'),
    ('气', '氣'),
    ('没', '沒'),
    ('滚', '滾'),
    ('点', '點'),
    ('烦', '煩'),
    ('爱', '愛'),
    ('猪', '豬'),
    ('电', '電'),
    ('痴', '癡'),
    ('监', '監'),
    ('着', '著'),
    ('码', '碼'),
    ('礼', '禮'),
    ('离', '離'),
    ('称', '稱'),
    ('笔', '筆'),
    ('简', '簡'),
    ('系', '係'),
    ('约', '約'),
    ('终', '終'),
    ('经', '經'),
    ('结', '結'),
    ('给', '給'),
    ('绝', '絕'),
    ('统', '統'),
    ('网', '網'),
    ('脑', '腦'),
    ('范', '範'),
    ('见', '見'),
    ('规', '規'),
    ('计', '計'),
    ('让', '讓'),
    ('证', '證'),
    ('诉', '訴'),
    ('话', '話'),
    ('询', '詢'),
    ('该', '該'),
    ('语', '語'),
    ('说', '說'),
    ('请', '請'),
    ('谢', '謝'),
    ('责', '責'),
    ('账', '帳'),
    ('货', '貨'),
    ('质', '質'),
    ('贯', '貫'),
    ('赖', '賴'),
    ('转', '轉'),
    ('过', '過'),
    ('还', '還'),
    ('这', '這'),
    ('进', '進'),
    ('释', '釋'),
    ('里', '裡'),
    ('钟', '鐘'),
    ('钱', '錢'),
    ('银', '銀'),
    ('错', '錯'),
    ('长', '長'),
    ('门', '門'),
    ('闭', '閉'),
    ('问', '問'),
    ('间', '間'),
    ('随', '隨'),
    ('静', '靜'),
    ('顾', '顧'),
    ('题', '題'),
    ('额', '額'),
    ('马', '馬'),
    ('验', '驗'),
];

/// Characters of the default Chinese rulebook that both scripts write the same way.
const SAME_IN_BOTH_SCRIPTS: &str = "一三上下不中久之了事五享人什今他代以任份作你使供依侮保信候傻\
    克全公共其具再冷出分切到加勿化匹千午卡卸去又句叫可司名向吧吵告呢呼和咨品啊喂嗯嘲嘴四回在地\
    多天好始姓子字安定客寄密小少工己已常底度康弱待很心快念怎思急息您情想愉意感慢懂我或打把抱拜\
    持按推提操文方日早明昨是晚智有服期本杜束查核格楚槽次款歉止此死每水活添清源片牌物王理瓜生用\
    病白的相看真知示祝神禁稍空穿章笑笨第等算管索繁美耐背能自致艾蛋蠢行表被要解言貌起超距跟身辱\
    迎通速道都配量隔非靠面音高鬼麻";

fn matcher_phrases(matcher: &matcher::TextMatcher, phrases: &mut Vec<String>) {
    phrases.extend(matcher.phrases.iter().map(matcher::Phrase::normalized));
    if let Some((near, _)) = &matcher.near {
        matcher_phrases(near, phrases);
    }
    if let Some(except) = &matcher.except {
        matcher_phrases(except, phrases);
    }
}

/// Every phrase and lexicon entry of the Chinese rulebook, written in traditional characters,
/// normalises to the same text as in simplified ones, so that it matches either transcript.
#[test]
fn chinese_rules_match_traditional_transcripts() {
    let rules = default_rules();
    let mut phrases = Vec::new();
    for rule in rules.for_language(Some("zh")).rules() {
        match &rule.condition {
            Condition::Must(matcher) | Condition::MustNot(matcher) => {
                matcher_phrases(matcher, &mut phrases);
            }
            Condition::Order(order) => {
                matcher_phrases(&order.first, &mut phrases);
                matcher_phrases(&order.then, &mut phrases);
            }
            _ => {}
        }
    }
    assert!(phrases.len() >= 100, "{} phrases", phrases.len());
    let mut failures = Vec::new();
    let mut n_converted = 0;
    for phrase in &phrases {
        let mut traditional = String::new();
        for character in phrase.chars() {
            if let Some(&(_, written)) = TO_TRADITIONAL
                .iter()
                .find(|(simplified, _)| *simplified == character)
            {
                traditional.push(written);
            } else {
                if crate::normalize::is_cjk(character) && !SAME_IN_BOTH_SCRIPTS.contains(character)
                {
                    failures.push(format!(
                        "{phrase}: add '{character}' to TO_TRADITIONAL or SAME_IN_BOTH_SCRIPTS"
                    ));
                }
                traditional.push(character);
            }
        }
        if traditional != *phrase {
            n_converted += 1;
        }
        let normalized =
            crate::normalize::normalize(&traditional, crate::normalize::Language::Chinese);
        if normalized != *phrase {
            failures.push(format!(
                "{phrase}: traditional {traditional} normalises to {normalized}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(
        n_converted >= 50,
        "only {n_converted} phrases differ in traditional script"
    );
}

/// Event details are machine-written (times, lexicon phrases): written as they are, never
/// through redaction, which took "1003.2 s … 1008.9 s" for a phone number.
#[test]
fn event_evidence_keeps_its_times() {
    let rules = default_rules();
    let call = parse_example(
        "@event silence 16:43-17:05 no one spoke for 22.0 s at 1003.2–1025.2 s\n\
         agent: Let me look into it.",
    )
    .expect("parses");
    let findings = evaluate(
        rules.for_language(Some("en")),
        &call.transcript,
        &call.measurements,
    );
    let dead_air = findings
        .iter()
        .find(|finding| finding.rule_id == "silence.dead_air")
        .expect("dead air found");
    assert_eq!(
        dead_air.evidence,
        "no one spoke for 22.0 s at 1003.2–1025.2 s (threshold 10.0 s)"
    );
    // What a redaction pass would have made of it.
    assert_ne!(
        crate::pii::redact("at 1003.2–1025.2 s", "en"),
        "at 1003.2–1025.2 s"
    );
}
