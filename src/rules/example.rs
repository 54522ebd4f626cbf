//! Example transcripts: the small calls written in rules (`examples.positive`/`negative`) and
//! in test data, parsed into a [`CallTranscript`] and [`Measurements`].
//!
//! ```text
//! # a comment
//! @language es                      the call's language (shared rules; default: the file's, else en)
//! @layout mono                      stereo (default) | mono | stereo_unassigned
//! @duration 2:30                    call length (default: last utterance end + 1 s)
//! @metric answer_delay_ms = 8000
//! @event silence 0:40-0:55 nobody spoke for 15 s
//! @event interruption agent 1:02-1:05
//! @agent_tone agitated; +8 dB louder than own baseline
//! [0:01-0:04] agent: Hello, thanks for calling Acme.
//! customer: Hi, I have a problem with my card.      (no time: placed after the previous line)
//! agent (low_confidence): ¿me repite?               (segment quality)
//! customer: This is terrible! {sentiment=-0.8 arousal=0.9}   (utterance tone)
//! ```
//! Speakers are `agent`, `customer` or `unknown` (mono). Lines without times last 350 ms per
//! word (at least a second) with half a second between them.

use crate::types::{
    AgentTone, CallTranscript, ChannelTranscript, Layout, Measurements, Segment, SegmentQuality,
    Speaker, SpeechRegion, TimingEvent, UtteranceTone,
};

/// A parsed example call.
#[derive(Debug, Clone)]
pub(crate) struct ExampleCall {
    pub transcript: CallTranscript,
    pub measurements: Measurements,
    /// From `@language`, if given.
    pub language: Option<String>,
}

/// Parses an example; errors name the example's own line.
pub(crate) fn parse_example(text: &str) -> Result<ExampleCall, String> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut measurements = Measurements::default();
    let mut language = None;
    let mut layout = None;
    let mut duration_ms = None;
    let mut cursor_ms: u64 = 500;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |message: String| format!("example line {line_number}: {message}");
        if let Some(directive) = line.strip_prefix('@') {
            let (name, rest) = directive
                .split_once(char::is_whitespace)
                .unwrap_or((directive, ""));
            let rest = rest.trim();
            match name {
                "language" => language = Some(rest.to_string()),
                "layout" => {
                    layout = Some(match rest {
                        "mono" => Layout::Mono,
                        "stereo" => Layout::Stereo,
                        "stereo_unassigned" => Layout::StereoUnassigned,
                        other => return Err(at(format!("unknown layout '{other}'"))),
                    });
                }
                "duration" => duration_ms = Some(parse_time(rest).map_err(at)?),
                "metric" => {
                    let (metric, value) = rest
                        .split_once('=')
                        .ok_or_else(|| at("write `@metric name = value`".to_string()))?;
                    let value: f64 = value
                        .trim()
                        .parse()
                        .map_err(|_| at(format!("'{}' is not a number", value.trim())))?;
                    measurements
                        .metrics
                        .insert(metric.trim().to_string(), value);
                }
                "event" => measurements.events.push(parse_event(rest).map_err(at)?),
                "agent_tone" => {
                    let (tone, reasons) = rest.split_once(';').unwrap_or((rest, ""));
                    measurements.agent_tone = Some(match tone.trim() {
                        "calm" => AgentTone::Calm,
                        "tense" => AgentTone::Tense,
                        "agitated" => AgentTone::Agitated,
                        other => return Err(at(format!("unknown agent tone '{other}'"))),
                    });
                    measurements.agent_tone_reasons = reasons
                        .split(';')
                        .map(str::trim)
                        .filter(|reason| !reason.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                other => return Err(at(format!("unknown directive '@{other}'"))),
            }
            continue;
        }
        let segment_index = segments.len();
        let (segment, tone) = parse_utterance(line, &mut cursor_ms, segment_index).map_err(at)?;
        segments.push(segment);
        if let Some(tone) = tone {
            measurements.utterances.push(tone);
        }
    }
    if segments.is_empty()
        && measurements.metrics.is_empty()
        && measurements.events.is_empty()
        && measurements.agent_tone.is_none()
    {
        return Err("the example is empty".to_string());
    }
    let layout = layout.unwrap_or_else(|| {
        if !segments.is_empty()
            && segments
                .iter()
                .all(|segment| segment.speaker == Speaker::Unknown)
        {
            Layout::Mono
        } else {
            Layout::Stereo
        }
    });
    // Segments are ordered by start time, then channel (the transcript's contract); utterance
    // tones follow their segment to its new index.
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&index| (segments[index].start_ms, segments[index].channel, index));
    let mut new_index = vec![0; segments.len()];
    for (position, &old) in order.iter().enumerate() {
        new_index[old] = position;
    }
    for tone in &mut measurements.utterances {
        tone.segment_index = new_index[tone.segment_index];
    }
    let segments: Vec<Segment> = order.iter().map(|&index| segments[index].clone()).collect();
    let last_end = segments
        .iter()
        .map(|segment| segment.end_ms)
        .max()
        .unwrap_or(0);
    let channels = build_channels(&segments, layout, language.as_deref());
    Ok(ExampleCall {
        transcript: CallTranscript {
            duration_ms: duration_ms.unwrap_or(last_end + 1000),
            layout,
            source_sample_rate: 8000,
            channels,
            segments,
        },
        measurements,
        language,
    })
}

fn build_channels(
    segments: &[Segment],
    layout: Layout,
    language: Option<&str>,
) -> Vec<ChannelTranscript> {
    let sides: &[(u16, Speaker)] = match layout {
        Layout::Stereo => &[(0, Speaker::Agent), (1, Speaker::Customer)],
        Layout::StereoUnassigned => &[(0, Speaker::Unknown), (1, Speaker::Unknown)],
        Layout::Mono => &[(0, Speaker::Unknown)],
    };
    let padding_ms = crate::vad::VadConfig::default().padding_ms;
    sides
        .iter()
        .map(|&(channel, speaker)| ChannelTranscript {
            channel,
            speaker,
            language: language.map(str::to_string),
            regions: segments
                .iter()
                .filter(|segment| segment.channel == channel)
                // As voice activity detection gives them: the speech with its padding, which
                // timing metrics take off again.
                .map(|segment| SpeechRegion {
                    start_ms: segment.start_ms.saturating_sub(padding_ms),
                    end_ms: segment.end_ms.saturating_add(padding_ms),
                })
                .collect(),
            acoustics: Vec::new(),
            n_dropped_segments: 0,
        })
        .collect()
}

/// `[start-end] speaker (quality): text {sentiment=… arousal=…}`.
fn parse_utterance(
    line: &str,
    cursor_ms: &mut u64,
    segment_index: usize,
) -> Result<(Segment, Option<UtteranceTone>), String> {
    let mut rest = line;
    let mut times = None;
    if let Some(after_bracket) = rest.strip_prefix('[') {
        let (inside, after) = after_bracket
            .split_once(']')
            .ok_or_else(|| "missing ']' after the time".to_string())?;
        let (start, end) = match inside.split_once('-') {
            Some((start, end)) => (parse_time(start)?, Some(parse_time(end)?)),
            None => (parse_time(inside)?, None),
        };
        times = Some((start, end));
        rest = after.trim_start();
    }
    let (who, text) = rest
        .split_once(':')
        .ok_or_else(|| "write `agent: text`, `customer: text` or `unknown: text`".to_string())?;
    let (speaker_name, quality_name) = match who.split_once('(') {
        Some((speaker, quality)) => (
            speaker.trim(),
            Some(quality.trim().trim_end_matches(')').trim()),
        ),
        None => (who.trim(), None),
    };
    let speaker = match speaker_name {
        "agent" => Speaker::Agent,
        "customer" => Speaker::Customer,
        "unknown" => Speaker::Unknown,
        other => {
            return Err(format!(
                "unknown speaker '{other}' (agent, customer or unknown)"
            ));
        }
    };
    let quality = match quality_name {
        None | Some("ok") => SegmentQuality::Ok,
        Some("low_confidence") => SegmentQuality::LowConfidence,
        Some("repetition_trimmed") => SegmentQuality::RepetitionTrimmed,
        Some(other) => return Err(format!("unknown segment quality '{other}'")),
    };
    let mut text = text.trim();
    let mut tone = None;
    if text.ends_with('}')
        && let Some(open) = text.rfind('{')
    {
        let annotation = &text[open + 1..text.len() - 1];
        text = text[..open].trim_end();
        let mut utterance_tone = UtteranceTone {
            segment_index,
            sentiment: 0.0,
            sentiment_terms: Vec::new(),
            arousal: None,
            arousal_reasons: Vec::new(),
        };
        for pair in annotation.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("write `{{sentiment=-0.8 arousal=0.9}}`, not '{pair}'"))?;
            let value: f32 = value
                .parse()
                .map_err(|_| format!("'{value}' is not a number"))?;
            match key {
                "sentiment" => utterance_tone.sentiment = value,
                "arousal" => utterance_tone.arousal = Some(value),
                other => return Err(format!("unknown tone key '{other}' (sentiment, arousal)")),
            }
        }
        tone = Some(utterance_tone);
    }
    let n_words = text.split_whitespace().count().max(
        text.chars()
            .filter(|&character| crate::normalize::is_cjk(character))
            .count()
            / 3,
    );
    let spoken_ms = (n_words as u64 * 350).max(1000);
    let (start_ms, end_ms) = match times {
        Some((start, Some(end))) if end >= start => (start, end),
        Some((_, Some(_))) => return Err("the end time is before the start time".to_string()),
        Some((start, None)) => (start, start + spoken_ms),
        None => (*cursor_ms, *cursor_ms + spoken_ms),
    };
    *cursor_ms = end_ms + 500;
    let segment = Segment {
        speaker,
        channel: u16::from(speaker == Speaker::Customer),
        start_ms,
        end_ms,
        text: text.to_string(),
        confidence: if quality == SegmentQuality::LowConfidence {
            0.35
        } else {
            0.9
        },
        quality,
    };
    Ok((segment, tone))
}

/// `kind [speaker] start-end [detail]`.
fn parse_event(rest: &str) -> Result<TimingEvent, String> {
    let mut parts = rest.split_whitespace();
    let kind = parts
        .next()
        .ok_or_else(|| "write `@event kind [speaker] start-end [detail]`".to_string())?;
    let mut next = parts.next().unwrap_or_default();
    let speaker = match next {
        "agent" => Some(Speaker::Agent),
        "customer" => Some(Speaker::Customer),
        "unknown" => Some(Speaker::Unknown),
        _ => None,
    };
    if speaker.is_some() {
        next = parts.next().unwrap_or_default();
    }
    let (start, end) = next
        .split_once('-')
        .ok_or_else(|| format!("'{next}' is not a time span like 0:40-0:55"))?;
    let (start_ms, end_ms) = (parse_time(start)?, parse_time(end)?);
    if end_ms < start_ms {
        return Err("the event ends before it starts".to_string());
    }
    Ok(TimingEvent {
        kind: kind.to_string(),
        speaker,
        start_ms,
        end_ms,
        detail: parts.collect::<Vec<_>>().join(" "),
    })
}

/// `m:ss(.fff)` or seconds (`12.5`).
fn parse_time(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let seconds = match text.split_once(':') {
        Some((minutes, seconds)) => {
            let minutes: f64 = minutes
                .parse()
                .map_err(|_| format!("'{text}' is not a time (m:ss)"))?;
            let seconds: f64 = seconds
                .parse()
                .map_err(|_| format!("'{text}' is not a time (m:ss)"))?;
            minutes * 60.0 + seconds
        }
        None => text
            .parse::<f64>()
            .map_err(|_| format!("'{text}' is not a time (m:ss or seconds)"))?,
    };
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(format!("'{text}' is not a time"));
    }
    Ok((seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_call() {
        let call = parse_example(
            "@language es\n@metric answer_delay_ms = 8000\n@event interruption agent 0:30-0:33 cut in\n\
             [0:01-0:04] agent: Hola, buenos días.\ncustomer: Hola {sentiment=-0.5}\nagent (low_confidence): vale",
        )
        .unwrap();
        assert_eq!(call.language.as_deref(), Some("es"));
        assert_eq!(call.transcript.layout, Layout::Stereo);
        assert_eq!(call.transcript.segments.len(), 3);
        assert_eq!(call.transcript.segments[0].start_ms, 1000);
        assert_eq!(call.transcript.segments[1].start_ms, 4500);
        assert_eq!(call.transcript.segments[1].text, "Hola");
        assert_eq!(
            call.transcript.segments[2].quality,
            SegmentQuality::LowConfidence
        );
        assert_eq!(call.measurements.utterances[0].segment_index, 1);
        assert_eq!(call.measurements.events[0].speaker, Some(Speaker::Agent));
        assert_eq!(call.measurements.metrics["answer_delay_ms"], 8000.0);
    }

    #[test]
    fn mono_when_all_unknown() {
        let call = parse_example("unknown: hello\nunknown: hi").unwrap();
        assert_eq!(call.transcript.layout, Layout::Mono);
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse_example("agent: hi\nagnt: hello").unwrap_err();
        assert!(error.starts_with("example line 2:"), "{error}");
    }
}
