//! The per-call audio path: read → decode → voice activity → transcribe → cache.
//!
//! Promises: a call ends as exactly one [`CallRecord`] in the store, either with a cached
//! transcript or with a [`Failure`] naming the stage and the reason. Nothing here panics on
//! bad input and one bad call never stops the others. A call whose audio, model, decoding
//! settings and language are unchanged is never transcribed again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use chrono::Utc;

use crate::decode::{DecodeOptions, stream_file_channel};
use crate::store::{CallRecord, Failure, Outcome, Store, StoreError, file_sha256};
use crate::transcribe::{WhisperCounts, Worker};
use crate::types::{
    CallSpec, CallTranscript, ChannelSide, ChannelTranscript, Layout, RegionAcoustics, Segment,
    Speaker, Word,
};
use crate::vad::{SpeechDetector, VadConfig, measure_samples};

/// What the audio path needs besides the call itself.
pub struct AudioPath<'a> {
    pub store: &'a Store,
    pub model_id: &'a str,
    pub asr_settings_key: &'a str,
    pub decode_options: &'a DecodeOptions,
    pub vad_config: &'a VadConfig,
}

/// How one call went in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallProgress {
    /// The transcript was already in the cache: no decoding, no Whisper.
    Cached,
    /// Transcribed now; Whisper's work over all its channels.
    Transcribed(WhisperCounts),
    Failed,
}

/// Seconds of audio and outcome of one processed call, for progress and the run manifest.
#[derive(Debug, Clone)]
pub struct ProcessedCall {
    pub progress: CallProgress,
    pub audio_ms: u64,
    pub stage_seconds: BTreeMap<String, f64>,
    /// What the decoder repaired or worked around in this call's file (kind, sentence), e.g. a
    /// recording cut short; empty for clean files and for cache hits (nothing was decoded).
    pub decode_notes: Vec<(String, String)>,
}

fn failure(stage: &str, error: &str, message: String) -> Failure {
    Failure {
        stage: stage.to_string(),
        error: error.to_string(),
        message,
    }
}

/// Runs `work`; a panic in it (a bug: nothing on the audio path should panic) comes back as
/// its message instead of unwinding further.
///
/// What comes back is where the bug is (`src/decode.rs:812`, from [`install_panic_hook`]), not
/// the panic's message: a message can quote the data being worked on (a slice out of range
/// names the string, a failed assertion its values), and transcripts hold personal data that
/// the `failures` table and the logs must not. `CALLQA_PANIC_DETAILS=1` adds the message, for
/// whoever debugs on their own data.
pub(crate) fn catch_panic<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    PANIC_LOCATION.with(|slot| slot.borrow_mut().take());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let location = PANIC_LOCATION
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| "an unknown place".to_string());
        if panic_details_wanted() {
            format!("at {location}: {}", panic_message(payload.as_ref()))
        } else {
            format!("at {location}")
        }
    })
}

thread_local! {
    /// Where the last panic on this thread happened, noted by the hook of
    /// [`install_panic_hook`] for [`catch_panic`].
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

fn panic_details_wanted() -> bool {
    std::env::var_os("CALLQA_PANIC_DETAILS").is_some_and(|value| !value.is_empty() && value != "0")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

/// Replaces Rust's panic hook, which prints the panic's message to standard error, by one that
/// prints where callqa failed and withholds the message (see [`catch_panic`] for why), and notes
/// the place for [`catch_panic`].
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(
            || "an unknown place".to_string(),
            |location| format!("{}:{}", location.file(), location.line()),
        );
        PANIC_LOCATION.with(|slot| *slot.borrow_mut() = Some(location.clone()));
        if panic_details_wanted() {
            eprintln!(
                "callqa: bug at {location}: {}",
                panic_message(info.payload())
            );
        } else {
            eprintln!(
                "callqa: bug at {location} (its message is withheld, as it may quote call \
                 text; CALLQA_PANIC_DETAILS=1 shows it)"
            );
        }
    }));
}

impl AudioPath<'_> {
    /// [`AudioPath::process`], with a panic anywhere on the call's path recorded as the call's
    /// failure (stage `internal`, error `panic`) instead of ending the batch: a file that trips
    /// a bug must not stop the night's run, nor every re-run of it. The worker's Whisper state
    /// is dropped, since the panic may have left it mid-window.
    pub fn process_isolated(
        &self,
        worker: &mut Worker<'_>,
        spec: &CallSpec,
    ) -> Result<ProcessedCall, StoreError> {
        catch_panic(|| self.process(worker, spec)).unwrap_or_else(|message| {
            worker.reset();
            let failure = failure(
                "internal",
                "panic",
                format!(
                    "{}: callqa hit a bug on this file ({message}); the batch went on. \
                     Please report it with the file if you can share it",
                    spec.path.display()
                ),
            );
            self.record_failure(spec, None, failure, BTreeMap::new())
        })
    }

    /// Processes one call and records the outcome in the store. Only a failure to write the
    /// store itself (disk full, permissions) is an error: that one must stop the run.
    pub fn process(
        &self,
        worker: &mut Worker<'_>,
        spec: &CallSpec,
    ) -> Result<ProcessedCall, StoreError> {
        let mut stage_seconds = BTreeMap::new();
        let started = Instant::now();
        let audio_sha256 = match read_hash(&spec.path) {
            Ok(hash) => hash,
            Err(failure) => return self.record_failure(spec, None, failure, stage_seconds),
        };
        stage_seconds.insert("hash".to_string(), started.elapsed().as_secs_f64());
        let transcript_key = Store::transcript_key(
            &audio_sha256,
            self.model_id,
            self.asr_settings_key,
            spec.language.as_deref(),
        );
        // A cached transcript damaged on disk is a cache miss: transcribing again replaces it.
        let cached = match self.store.load_transcript(&transcript_key) {
            Ok(cached) => cached,
            Err(StoreError::Damaged { .. }) => None,
            Err(error) => return Err(error),
        };
        if let Some(transcript) = cached {
            // Nothing is decoded this time: what the decoder repaired in this same file when it
            // was transcribed stays with the call.
            let decode_notes = self
                .store
                .load_record(&spec.call_id)
                .ok()
                .flatten()
                .filter(|earlier| earlier.audio_sha256.as_deref() == Some(audio_sha256.as_str()))
                .map(|earlier| earlier.decode_notes)
                .unwrap_or_default();
            let mut record = self.record(
                spec,
                Some(audio_sha256),
                Outcome::Transcribed { transcript_key },
                BTreeMap::new(),
            );
            record.decode_notes = decode_notes;
            self.store.save_record(&record)?;
            return Ok(ProcessedCall {
                progress: CallProgress::Cached,
                audio_ms: transcript.duration_ms,
                stage_seconds,
                decode_notes: Vec::new(),
            });
        }

        // Each channel is read twice, streaming: the first pass finds its speech, the second
        // transcribes it window by window as the samples arrive. Neither holds the channel:
        // memory per worker is the same for a 3-hour call as for a 3-minute one (one Whisper
        // window and the voice-activity cues of each 16 ms frame). Decoding is under 1 % of
        // the work, so reading twice costs nothing that matters.
        let mut decode_seconds = 0.0;
        let mut vad_seconds = 0.0;
        let mut transcribe_seconds = 0.0;
        let mut decode_notes: Vec<(String, String)> = Vec::new();
        let mut file_facts: Option<(usize, u64, u32)> = None;
        let mut channels = Vec::new();
        let mut segments = Vec::new();
        let mut whisper = WhisperCounts::default();
        let mut channel_index = 0;
        loop {
            // Pass 1: voice activity.
            let pass_started = Instant::now();
            let mut detector = SpeechDetector::new(self.vad_config);
            let mut in_detector = 0.0;
            let streamed = stream_file_channel(
                &spec.path,
                self.decode_options,
                channel_index,
                &mut |samples| {
                    let started = Instant::now();
                    detector.push(samples);
                    in_detector += started.elapsed().as_secs_f64();
                },
            );
            let streamed = match streamed {
                Ok(streamed) => streamed,
                Err(error) => {
                    stage_seconds.insert("decode".to_string(), decode_seconds);
                    let failure = failure("decode", error.kind(), error.to_string());
                    return self.record_failure(spec, Some(audio_sha256), failure, stage_seconds);
                }
            };
            let (n_channels, _, _) = *file_facts.get_or_insert((
                usize::from(streamed.n_source_channels),
                streamed.duration_ms,
                streamed.source_sample_rate,
            ));
            if channel_index == 0 {
                decode_notes = streamed
                    .notes
                    .iter()
                    .map(|note| (note.kind().to_string(), note.to_string()))
                    .collect();
            } else if usize::from(streamed.n_source_channels) != n_channels {
                // Only a file changed or damaged while it was read gets here.
                return self.changed_while_read(spec, audio_sha256, channel_index, stage_seconds);
            }
            let started = Instant::now();
            let regions = detector.finish();
            in_detector += started.elapsed().as_secs_f64();
            vad_seconds += in_detector;
            decode_seconds += pass_started.elapsed().as_secs_f64() - in_detector;
            let layout = layout_of(n_channels, spec.agent_channel);
            let channel = channel_index as u16;
            let speaker = speaker_of(layout, spec.agent_channel, channel);

            // Pass 2: transcription, and loudness and pitch of each region on the way.
            let pass_started = Instant::now();
            let mut acoustics: Vec<Option<RegionAcoustics>> = vec![None; regions.len()];
            let mut in_measure = 0.0;
            let mut measure = |region_index: usize, samples: &[f32]| {
                let started = Instant::now();
                acoustics[region_index] = Some(measure_samples(samples, &regions[region_index]));
                in_measure += started.elapsed().as_secs_f64();
            };
            let mut in_whisper = 0.0;
            let transcribed = match worker.channel_stream(&regions, spec.language.as_deref()) {
                Err(error) => Err(error),
                Ok(mut stream) => {
                    let streamed_again = stream_file_channel(
                        &spec.path,
                        self.decode_options,
                        channel_index,
                        &mut |samples| {
                            let started = Instant::now();
                            stream.push(samples, &mut measure);
                            in_whisper += started.elapsed().as_secs_f64();
                        },
                    );
                    match streamed_again {
                        Ok(again) if again.n_samples == streamed.n_samples => {
                            let started = Instant::now();
                            let text = stream.finish(&mut measure);
                            in_whisper += started.elapsed().as_secs_f64();
                            text
                        }
                        _ => {
                            return self.changed_while_read(
                                spec,
                                audio_sha256,
                                channel_index,
                                stage_seconds,
                            );
                        }
                    }
                }
            };
            decode_seconds += pass_started.elapsed().as_secs_f64() - in_whisper;
            vad_seconds += in_measure;
            transcribe_seconds += in_whisper - in_measure;
            let channel_text = match transcribed {
                Ok(text) => text,
                Err(error) => {
                    let failure = failure(
                        "transcribe",
                        error.kind(),
                        format!("{}: {error}", spec.path.display()),
                    );
                    return self.record_failure(spec, Some(audio_sha256), failure, stage_seconds);
                }
            };
            let acoustics = acoustics
                .into_iter()
                .zip(&regions)
                .map(|(measured, region)| {
                    // Every region is handed over with its window; one in no window would
                    // read as silence rather than leave a hole in the table.
                    measured.unwrap_or_else(|| measure_samples(&[], region))
                })
                .collect();
            whisper += channel_text.whisper;
            for utterance in channel_text.utterances {
                let region = regions[utterance.region_index];
                segments.push((
                    Segment {
                        speaker,
                        channel,
                        start_ms: region.start_ms,
                        end_ms: region.end_ms,
                        text: utterance.text,
                        confidence: utterance.confidence,
                        quality: utterance.quality,
                    },
                    utterance.words,
                ));
            }
            channels.push(ChannelTranscript {
                channel,
                speaker,
                language: channel_text.language,
                regions,
                acoustics,
                n_dropped_segments: channel_text.n_dropped,
            });
            channel_index += 1;
            if channel_index >= n_channels {
                break;
            }
        }
        let (n_channels, duration_ms, source_sample_rate) =
            file_facts.expect("the loop reads channel 0 before it can end");
        let layout = layout_of(n_channels, spec.agent_channel);
        stage_seconds.insert("decode".to_string(), decode_seconds);
        stage_seconds.insert("vad".to_string(), vad_seconds);
        stage_seconds.insert("transcribe".to_string(), transcribe_seconds);
        segments.sort_by_key(|(segment, _)| (segment.start_ms, segment.channel));
        // The words' times go to the stored transcript only (for the audit's bleeps), not to
        // the dataset.
        let (segments, words): (Vec<Segment>, Vec<Vec<Word>>) = segments.into_iter().unzip();
        let transcript = CallTranscript {
            duration_ms,
            layout,
            source_sample_rate,
            channels,
            segments,
        };
        self.store
            .save_transcript_with_words(&transcript_key, &transcript, &words)?;
        let mut record = self.record(
            spec,
            Some(audio_sha256),
            Outcome::Transcribed { transcript_key },
            stage_seconds.clone(),
        );
        record.decode_notes = decode_notes
            .iter()
            .map(|(_, sentence)| sentence.clone())
            .collect();
        self.store.save_record(&record)?;
        Ok(ProcessedCall {
            progress: CallProgress::Transcribed(whisper),
            audio_ms: transcript.duration_ms,
            stage_seconds,
            decode_notes,
        })
    }

    fn record(
        &self,
        spec: &CallSpec,
        audio_sha256: Option<String>,
        outcome: Outcome,
        stage_seconds: BTreeMap<String, f64>,
    ) -> CallRecord {
        CallRecord {
            spec: spec.clone(),
            outcome,
            audio_sha256,
            model_id: Some(self.model_id.to_string()),
            asr_settings: Some(self.asr_settings_key.to_string()),
            processed_at: Utc::now(),
            stage_seconds,
            decode_notes: Vec::new(),
        }
    }

    /// The file changed between two reads of it (a copy still being written, or rewritten).
    fn changed_while_read(
        &self,
        spec: &CallSpec,
        audio_sha256: String,
        channel_index: usize,
        stage_seconds: BTreeMap<String, f64>,
    ) -> Result<ProcessedCall, StoreError> {
        let failure = failure(
            "decode",
            "changed_while_read",
            format!(
                "{}: channel {} changed while the file was read (was it being rewritten?)",
                spec.path.display(),
                channel_index + 1
            ),
        );
        self.record_failure(spec, Some(audio_sha256), failure, stage_seconds)
    }

    fn record_failure(
        &self,
        spec: &CallSpec,
        audio_sha256: Option<String>,
        failure: Failure,
        stage_seconds: BTreeMap<String, f64>,
    ) -> Result<ProcessedCall, StoreError> {
        self.store.save_record(&self.record(
            spec,
            audio_sha256,
            Outcome::Failed(failure),
            stage_seconds.clone(),
        ))?;
        Ok(ProcessedCall {
            progress: CallProgress::Failed,
            audio_ms: 0,
            stage_seconds,
            decode_notes: Vec::new(),
        })
    }
}

/// Reads the file once to hash it; the reasons a file cannot be read become plain failures.
///
/// Only regular files (or links to them) are opened: opening a named pipe would block the
/// worker until some other program writes to it, which on a night batch means forever, and a
/// device or socket is never a recording.
fn read_hash(path: &Path) -> Result<String, Failure> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(failure(
                "read",
                "not_a_file",
                format!("{}: is a folder, not a recording", path.display()),
            ));
        }
        Ok(metadata) if !metadata.is_file() => {
            return Err(failure(
                "read",
                "not_a_file",
                format!(
                    "{}: is {}, not a recording; it was not opened",
                    path.display(),
                    special_file_kind(&metadata)
                ),
            ));
        }
        Ok(_) => {}
        Err(error) => {
            let is_dangling_link = error.kind() == std::io::ErrorKind::NotFound
                && std::fs::symlink_metadata(path)
                    .is_ok_and(|metadata| metadata.file_type().is_symlink());
            let message = if is_dangling_link {
                "a symbolic link to a file that does not exist (was the recording moved?)"
                    .to_string()
            } else {
                io_message(&error)
            };
            return Err(failure(
                "read",
                io_kind(&error),
                format!("{}: {message}", path.display()),
            ));
        }
    }
    file_sha256(path).map_err(|error| {
        failure(
            "read",
            io_kind(&error),
            format!("{}: {}", path.display(), io_message(&error)),
        )
    })
}

/// "a named pipe (FIFO)", "a socket" … for a file that is neither a folder nor a regular file.
fn special_file_kind(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let file_type = metadata.file_type();
        if file_type.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    let _ = metadata;
    "a special file"
}

fn io_kind(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::NotFound => "not_found",
        std::io::ErrorKind::PermissionDenied => "permission_denied",
        _ => "io",
    }
}

fn io_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied: callqa cannot read this file".to_string()
        }
        _ => format!("cannot read: {error}"),
    }
}

/// A recording's layout from its channel count and whether the agent's side is known.
fn layout_of(n_channels: usize, agent_channel: Option<ChannelSide>) -> Layout {
    match (n_channels, agent_channel) {
        (1, _) => Layout::Mono,
        (_, Some(_)) => Layout::Stereo,
        (_, None) => Layout::StereoUnassigned,
    }
}

/// Who speaks on a channel, given the layout and which side is the agent.
pub fn speaker_of(layout: Layout, agent_channel: Option<ChannelSide>, channel: u16) -> Speaker {
    match (layout, agent_channel) {
        (Layout::Stereo, Some(side)) if side.index() == usize::from(channel) => Speaker::Agent,
        (Layout::Stereo, Some(_)) => Speaker::Customer,
        _ => Speaker::Unknown,
    }
}

/// Re-labels a cached transcript's speakers from the call's current metadata, so fixing the
/// agent channel in a manifest takes effect without transcribing again.
pub fn assign_speakers(transcript: &mut CallTranscript, agent_channel: Option<ChannelSide>) {
    if transcript.channels.len() == 2 {
        transcript.layout = if agent_channel.is_some() {
            Layout::Stereo
        } else {
            Layout::StereoUnassigned
        };
    }
    let layout = transcript.layout;
    for channel in &mut transcript.channels {
        channel.speaker = speaker_of(layout, agent_channel, channel.channel);
    }
    for segment in &mut transcript.segments {
        segment.speaker = speaker_of(layout, agent_channel, segment.channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speakers_follow_the_agent_channel() {
        assert_eq!(
            speaker_of(Layout::Stereo, Some(ChannelSide::Left), 0),
            Speaker::Agent
        );
        assert_eq!(
            speaker_of(Layout::Stereo, Some(ChannelSide::Left), 1),
            Speaker::Customer
        );
        assert_eq!(
            speaker_of(Layout::Stereo, Some(ChannelSide::Right), 1),
            Speaker::Agent
        );
        assert_eq!(
            speaker_of(Layout::StereoUnassigned, None, 0),
            Speaker::Unknown
        );
        assert_eq!(
            speaker_of(Layout::Mono, Some(ChannelSide::Left), 0),
            Speaker::Unknown
        );
    }

    #[test]
    fn a_panic_comes_back_as_its_place_never_its_message() {
        install_panic_hook();
        assert_eq!(catch_panic(|| 7), Ok(7));
        let header = [b'R', b'F', b'6', b'4'];
        let start = header.len() * 2;
        let message = catch_panic(|| header[start..].len()).unwrap_err();
        assert!(message.starts_with("at src/pipeline.rs:"), "{message}");
        // A message quoting call text stays out of what is stored and printed.
        let text = "my card is 4111 1111 1111 1111";
        let message = catch_panic(|| -> u8 { panic!("cannot cut {text:?}") }).unwrap_err();
        assert!(message.starts_with("at src/pipeline.rs:"), "{message}");
        assert!(!message.contains("4111"), "{message}");
    }

    #[test]
    fn unreadable_inputs_are_failures_not_errors() {
        let folder = tempfile::tempdir().unwrap();
        let failure = read_hash(folder.path()).unwrap_err();
        assert_eq!(failure.error, "not_a_file");
        let failure = read_hash(&folder.path().join("missing.wav")).unwrap_err();
        assert_eq!(failure.error, "not_found");
        assert!(failure.message.contains("missing.wav"));
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_not_opened() {
        let folder = tempfile::tempdir().unwrap();
        // A named pipe without a writer: opening it would block forever.
        let fifo = folder.path().join("pipe.wav");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let failure = read_hash(&fifo).unwrap_err();
        assert_eq!(failure.error, "not_a_file");
        assert!(
            failure.message.contains("named pipe"),
            "{}",
            failure.message
        );

        let link = folder.path().join("moved.wav");
        std::os::unix::fs::symlink(folder.path().join("gone.wav"), &link).unwrap();
        let failure = read_hash(&link).unwrap_err();
        assert_eq!(failure.error, "not_found");
        assert!(
            failure.message.contains("symbolic link"),
            "{}",
            failure.message
        );
    }
}
