//! Decode stage: reads one call recording (a RIFF/WAVE file) into per-channel `f32` samples at
//! 16 kHz, the rate Whisper and the voice activity detector work at.
//!
//! What it promises:
//! * **Formats**: WAV with integer PCM (8-bit unsigned, 16/24/32-bit signed, and odd widths such
//!   as 12 or 20 bits in a byte-aligned container), IEEE float (32 and 64 bit), G.711 mu-law
//!   and A-law; each either with its plain format tag or inside `WAVE_FORMAT_EXTENSIBLE`; RF64
//!   (the 64-bit WAV variant some recorders switch to past 4 GiB). Sample rates 4–192 kHz.
//! * **Resampling**: every channel is resampled on its own to exactly 16 kHz with rubato's FFT
//!   resampler (a band-limited, windowed-sinc filter applied by FFT; linear phase). The
//!   filter delay is removed and the tail is flushed, so the output has
//!   `ceil(n_frames * 16000 / rate)` samples aligned with the input: no sample is lost at the end
//!   and call times stay exact. 16 kHz input passes through untouched.
//! * **Levels**: samples are in -1..=1 (integer formats scaled by their full scale, floats
//!   clamped).
//! * **Never panics, bounded memory**: every length in the header is checked against the real
//!   file size before it is trusted, so a header claiming gigabytes of audio in a 1 kB file
//!   allocates nothing big. Input is streamed through the resampler block by block;
//!   [`stream_file_channel`] hands the 16 kHz output of one channel on as it is produced and
//!   holds none of it (what the audio path uses), [`decode_file_channel`] collects one channel
//!   (64 kB per second of audio: ~0.7 GB for 3 hours) and [`decode_file`] all of them.
//! * **Errors in plain words**: [`DecodeError`] names the file and says what is wrong in words a
//!   QA lead understands; [`DecodeError::kind`] gives a stable short code for the failures table.
//!
//! Policies for damaged files (decided here, so that every caller behaves the same):
//! * A data chunk that is **cut short** (the header announces more audio than the file holds,
//!   typically a recorder that crashed or a copy that did not finish) is decoded as far as it
//!   goes and reported in [`DecodedAudio::notes`]; losing a whole call to a missing last second
//!   would be worse than scoring what was said. A file with a header but no audio at all is
//!   [`DecodeError::Truncated`].
//! * A data chunk whose length was **never written** (0 or 0xFFFFFFFF, left by a recorder that
//!   stopped abnormally) is read to the end of the file, with a note.
//! * **NaN or infinite** float samples: if at most 1 in 1,000 samples ([`MAX_NON_FINITE_FRACTION`])
//!   they are replaced by silence (0.0) with a note, since a few corrupt samples do not change a
//!   transcript; above that the recording is corrupt and decoding fails with
//!   [`DecodeError::InvalidSamples`].
//! * Why not symphonia's WAV reader: symphonia 0.5.5 rejects G.711 mu-law inside
//!   `WAVE_FORMAT_EXTENSIBLE` (it checks a wrong sub-format GUID), rejects G.711 files whose
//!   `fmt ` chunk is 16 bytes long, reads truncated files without saying so, and reports
//!   failures as free-text strings that cannot be mapped to our error kinds. WAV is simple
//!   enough to read directly, which gives exact error kinds and the bounded-memory guarantee.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rubato::{FftFixedIn, Resampler};

/// Every decoded channel is at this rate.
pub const TARGET_SAMPLE_RATE: u32 = 16_000;
/// Lowest source rate accepted (below this, speech is not intelligible anyway).
pub const MIN_SOURCE_SAMPLE_RATE: u32 = 4_000;
/// Highest source rate accepted.
pub const MAX_SOURCE_SAMPLE_RATE: u32 = 192_000;
/// Largest share of NaN/infinite samples that is silently repaired (zeroed); more is an error.
pub const MAX_NON_FINITE_FRACTION: f64 = 0.001;

/// Default for [`DecodeOptions::max_duration_ms`]: four hours.
pub const DEFAULT_MAX_DURATION_MS: u64 = 4 * 60 * 60 * 1000;
/// Default for [`DecodeOptions::max_channels`]: stereo.
pub const DEFAULT_MAX_CHANNELS: u16 = 2;

/// Input frames handed to the resampler per call, before rounding up to the resampler's own
/// granularity. Large enough for efficient FFTs, small enough to keep buffers tiny.
const RESAMPLER_CHUNK_FRAMES: usize = 4096;
/// Bytes read from the data chunk per step (rounded down to whole frames).
const READ_BLOCK_BYTES: usize = 64 * 1024;
/// `fmt ` chunks longer than this are read only this far (the rest is codec-specific data that
/// we never need); it also keeps a forged giant `fmt ` size from causing a big allocation.
const MAX_FORMAT_CHUNK_READ: usize = 256;

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Recordings longer than this fail with [`DecodeError::TooLong`] (before any decoding).
    pub max_duration_ms: u64,
    /// Recordings with more channels fail with [`DecodeError::TooManyChannels`].
    pub max_channels: u16,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_duration_ms: DEFAULT_MAX_DURATION_MS,
            max_channels: DEFAULT_MAX_CHANNELS,
        }
    }
}

/// A decoded recording: one vector per channel, all at [`TARGET_SAMPLE_RATE`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    pub source_sample_rate: u32,
    /// Sample encoding of the source, see [`SampleEncoding::as_str`]: "pcm_s16le", "mulaw", ...
    pub source_format: String,
    pub n_source_channels: u16,
    /// Channel 0 is left (or mono), channel 1 right. Each at 16 kHz, samples in -1..=1.
    pub channels: Vec<Vec<f32>>,
    /// Length of the audio actually decoded, in milliseconds (rounded to nearest).
    pub duration_ms: u64,
    /// Problems that were repaired or worked around; empty for a clean file. Worth showing in a
    /// run report, since they explain odd transcripts (a call that stops mid-sentence).
    pub notes: Vec<DecodeNote>,
}

/// Header facts about a recording, read without decoding the audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub n_channels: u16,
    /// See [`SampleEncoding::as_str`].
    pub format: String,
    /// Frames (samples per channel) actually present in the file.
    pub n_frames: u64,
    /// Duration of the audio actually present, in milliseconds (rounded to nearest).
    pub duration_ms: u64,
    /// True when the header announces more audio than the file holds.
    pub data_truncated: bool,
}

/// Something that was wrong with a file but could be worked around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeNote {
    /// The data chunk announces more bytes than the file holds; what is present was decoded.
    DataTruncated {
        declared_bytes: u64,
        present_bytes: u64,
    },
    /// The data length in the header was never filled in (0 or 0xFFFFFFFF); the audio was read
    /// to the end of the file.
    DataLengthUnset,
    /// Bytes at the end of the data that do not make up a whole sample frame were ignored.
    PartialFrameIgnored { bytes: u64 },
    /// NaN or infinite float samples were replaced by silence.
    NonFiniteSamplesZeroed { count: u64 },
    /// Float samples outside -1..=1 were clamped (the source was recorded too hot).
    FloatSamplesClamped { count: u64 },
}

impl DecodeNote {
    /// Stable short code, for tables and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeNote::DataTruncated { .. } => "data_truncated",
            DecodeNote::DataLengthUnset => "data_length_unset",
            DecodeNote::PartialFrameIgnored { .. } => "partial_frame_ignored",
            DecodeNote::NonFiniteSamplesZeroed { .. } => "non_finite_samples_zeroed",
            DecodeNote::FloatSamplesClamped { .. } => "float_samples_clamped",
        }
    }
}

impl fmt::Display for DecodeNote {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeNote::DataTruncated {
                declared_bytes,
                present_bytes,
            } => write!(
                formatter,
                "the file is cut short: its header announces {declared_bytes} bytes of audio \
                 but only {present_bytes} are present; the part that is there was decoded"
            ),
            DecodeNote::DataLengthUnset => formatter.write_str(
                "the recorder never wrote the audio length into the header (it probably \
                 stopped abnormally); the audio was read to the end of the file",
            ),
            DecodeNote::PartialFrameIgnored { bytes } => write!(
                formatter,
                "{bytes} stray bytes at the end of the audio (less than one sample) were ignored"
            ),
            DecodeNote::NonFiniteSamplesZeroed { count } => write!(
                formatter,
                "{count} corrupt samples (not a number) were replaced by silence"
            ),
            DecodeNote::FloatSamplesClamped { count } => write!(
                formatter,
                "{count} samples were louder than full scale and were clipped"
            ),
        }
    }
}

/// Why a recording could not be decoded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{}: the file is empty (0 bytes)", path.display())]
    Empty { path: PathBuf },

    #[error("{}: not a WAV audio file ({detail})", path.display())]
    NotAudio { path: PathBuf, detail: String },

    #[error("{}: the file is cut short: {detail}", path.display())]
    Truncated { path: PathBuf, detail: String },

    #[error(
        "{}: the audio is stored as {format}, which is not supported (supported: WAV with \
         PCM, float, G.711 mu-law or A-law samples)",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf, format: String },

    #[error("{}: the WAV header is damaged: {detail}", path.display())]
    BadHeader { path: PathBuf, detail: String },

    #[error(
        "{}: the recording has {n_channels} channels; at most {max_channels} are accepted \
         (one agent and one customer channel)",
        path.display()
    )]
    TooManyChannels {
        path: PathBuf,
        n_channels: u16,
        max_channels: u16,
    },

    #[error(
        "{}: the recording lasts {}, longer than the limit of {}",
        path.display(), format_duration(*duration_ms), format_duration(*max_duration_ms)
    )]
    TooLong {
        path: PathBuf,
        duration_ms: u64,
        max_duration_ms: u64,
    },

    #[error(
        "{}: the audio is corrupt: {n_invalid} of the samples read are not numbers (NaN or \
         infinite)",
        path.display()
    )]
    InvalidSamples { path: PathBuf, n_invalid: u64 },

    #[error("{}: the file could not be read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DecodeError {
    /// Stable short code for the failures table.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty { .. } => "empty",
            DecodeError::NotAudio { .. } => "not_audio",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::UnsupportedFormat { .. } => "unsupported_format",
            DecodeError::BadHeader { .. } => "bad_header",
            DecodeError::TooManyChannels { .. } => "too_many_channels",
            DecodeError::TooLong { .. } => "too_long",
            DecodeError::InvalidSamples { .. } => "invalid_samples",
            DecodeError::Io { .. } => "io",
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DecodeError::Empty { path }
            | DecodeError::NotAudio { path, .. }
            | DecodeError::Truncated { path, .. }
            | DecodeError::UnsupportedFormat { path, .. }
            | DecodeError::BadHeader { path, .. }
            | DecodeError::TooManyChannels { path, .. }
            | DecodeError::TooLong { path, .. }
            | DecodeError::InvalidSamples { path, .. }
            | DecodeError::Io { path, .. } => path,
        }
    }
}

/// "1 h 02 min 03 s" style, for error messages.
fn format_duration(duration_ms: u64) -> String {
    let total_seconds = duration_ms / 1000;
    let (hours, minutes, seconds) = (
        total_seconds / 3600,
        (total_seconds / 60) % 60,
        total_seconds % 60,
    );
    if hours > 0 {
        format!("{hours} h {minutes:02} min {seconds:02} s")
    } else if minutes > 0 {
        format!("{minutes} min {seconds:02} s")
    } else {
        format!("{}.{:03} s", seconds, duration_ms % 1000)
    }
}

/// How samples are stored in the data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleEncoding {
    /// 8-bit unsigned integer PCM (128 = silence).
    PcmUnsigned8,
    /// Signed little-endian integer PCM in a 2, 3 or 4 byte container.
    PcmSigned16,
    PcmSigned24,
    PcmSigned32,
    Float32,
    Float64,
    MuLaw,
    ALaw,
}

impl SampleEncoding {
    /// Short name used in [`DecodedAudio::source_format`] and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleEncoding::PcmUnsigned8 => "pcm_u8",
            SampleEncoding::PcmSigned16 => "pcm_s16le",
            SampleEncoding::PcmSigned24 => "pcm_s24le",
            SampleEncoding::PcmSigned32 => "pcm_s32le",
            SampleEncoding::Float32 => "f32le",
            SampleEncoding::Float64 => "f64le",
            SampleEncoding::MuLaw => "mulaw",
            SampleEncoding::ALaw => "alaw",
        }
    }

    fn bytes_per_sample(self) -> usize {
        match self {
            SampleEncoding::PcmUnsigned8 | SampleEncoding::MuLaw | SampleEncoding::ALaw => 1,
            SampleEncoding::PcmSigned16 => 2,
            SampleEncoding::PcmSigned24 => 3,
            SampleEncoding::PcmSigned32 | SampleEncoding::Float32 => 4,
            SampleEncoding::Float64 => 8,
        }
    }

    fn is_float(self) -> bool {
        matches!(self, SampleEncoding::Float32 | SampleEncoding::Float64)
    }
}

/// Reads only the header of `path` and reports rate, channels, encoding and duration.
///
/// Cheap: reads the chunk headers up to the start of the audio, never the audio itself. Fails
/// with the same error kinds as [`decode_file`] for files that are not decodable WAV; it does
/// not apply [`DecodeOptions`] limits.
pub fn probe_file(path: &Path) -> Result<AudioInfo, DecodeError> {
    let mut file = open_file(path)?;
    let layout = read_layout(path, &mut file)?;
    Ok(audio_info(&layout))
}

fn audio_info(layout: &DataLayout) -> AudioInfo {
    AudioInfo {
        sample_rate: layout.sample_rate,
        n_channels: layout.n_channels,
        format: layout.encoding.as_str().to_owned(),
        n_frames: layout.n_frames,
        duration_ms: frames_to_ms(layout.n_frames, layout.sample_rate),
        data_truncated: layout
            .notes
            .iter()
            .any(|note| matches!(note, DecodeNote::DataTruncated { .. })),
    }
}

/// Decodes `path` into per-channel 16 kHz samples. See the module documentation for the formats
/// handled and the policies on damaged files.
pub fn decode_file(path: &Path, options: &DecodeOptions) -> Result<DecodedAudio, DecodeError> {
    let mut file = open_file(path)?;
    decode_reader(path, &mut file, options, None)
}

/// Decodes only channel `channel` (0 = left or mono) of `path`: [`DecodedAudio::channels`] holds
/// that one channel, everything else is as [`decode_file`] reports it (limits, notes and errors
/// consider every channel, so each channel of a file sees the same outcome).
///
/// The 16 kHz `f32` output of one channel of a 3-hour call is ~690 MB: for long calls use
/// [`stream_file_channel`], which holds none of it.
///
/// A `channel` beyond the file's channel count gives no samples (an empty channel list).
pub fn decode_file_channel(
    path: &Path,
    options: &DecodeOptions,
    channel: usize,
) -> Result<DecodedAudio, DecodeError> {
    let mut file = open_file(path)?;
    decode_reader(path, &mut file, options, Some(channel))
}

/// Decodes a WAV file held in memory, as [`decode_file`] does from disk. Error messages name
/// the recording `<memory>`. Used by the fuzz targets and by callers that already hold bytes.
pub fn decode_bytes(bytes: &[u8], options: &DecodeOptions) -> Result<DecodedAudio, DecodeError> {
    let mut reader = std::io::Cursor::new(bytes);
    decode_reader(Path::new("<memory>"), &mut reader, options, None)
}

/// Reads only the header of a WAV file held in memory; see [`probe_file`].
pub fn probe_bytes(bytes: &[u8]) -> Result<AudioInfo, DecodeError> {
    let mut reader = std::io::Cursor::new(bytes);
    let layout = read_layout(Path::new("<memory>"), &mut reader)?;
    Ok(audio_info(&layout))
}

/// The common body of every decoding entry point: reads the header, checks the limits and
/// hands the 16 kHz output to `output` block by block (`only_channel` keeps one channel).
/// Returns the layout and the notes on what was repaired.
fn stream_reader<R: Read + Seek>(
    path: &Path,
    file: &mut R,
    options: &DecodeOptions,
    only_channel: Option<usize>,
    output: &mut dyn FnMut(&[&[f32]]),
) -> Result<(DataLayout, Vec<DecodeNote>), DecodeError> {
    let layout = read_layout(path, file)?;
    check_limits(path, &layout, options)?;
    file.seek(SeekFrom::Start(layout.data_offset))
        .map_err(|source| io_error(path, source))?;
    let mut notes = layout.notes.clone();
    decode_and_resample(path, file, &layout, only_channel, &mut notes, output)?;
    Ok((layout, notes))
}

/// [`stream_reader`], collecting the output: `only_channel` keeps one channel.
fn decode_reader<R: Read + Seek>(
    path: &Path,
    file: &mut R,
    options: &DecodeOptions,
    only_channel: Option<usize>,
) -> Result<DecodedAudio, DecodeError> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut collect = |block: &[&[f32]]| {
        if channels.is_empty() {
            channels = vec![Vec::new(); block.len()];
        }
        for (channel, samples) in channels.iter_mut().zip(block) {
            channel.extend_from_slice(samples);
        }
    };
    let (layout, notes) = stream_reader(path, file, options, only_channel, &mut collect)?;
    if channels.is_empty() {
        // No output block (an empty data chunk): still one empty vector per kept channel.
        let n_kept = match only_channel {
            None => usize::from(layout.n_channels),
            Some(channel) => usize::from(channel < usize::from(layout.n_channels)),
        };
        channels = vec![Vec::new(); n_kept];
    }

    Ok(DecodedAudio {
        source_sample_rate: layout.sample_rate,
        source_format: layout.encoding.as_str().to_owned(),
        n_source_channels: layout.n_channels,
        channels,
        duration_ms: frames_to_ms(layout.n_frames, layout.sample_rate),
        notes,
    })
}

/// What [`stream_file_channel`] found: everything [`DecodedAudio`] holds except the samples,
/// which went to the consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedChannel {
    pub source_sample_rate: u32,
    pub source_format: String,
    pub n_source_channels: u16,
    /// 16 kHz samples handed to the consumer (0 for a channel beyond the file's count).
    pub n_samples: usize,
    pub duration_ms: u64,
    pub notes: Vec<DecodeNote>,
}

/// Decodes channel `channel` of `path` like [`decode_file_channel`], but hands the 16 kHz
/// samples to `consume` in blocks of a few thousand as they are produced instead of collecting
/// them: memory stays the same whatever the length of the call. Concatenated, the blocks are
/// exactly [`decode_file_channel`]'s samples; limits, notes and errors are the same too.
pub fn stream_file_channel(
    path: &Path,
    options: &DecodeOptions,
    channel: usize,
    consume: &mut dyn FnMut(&[f32]),
) -> Result<StreamedChannel, DecodeError> {
    let mut file = open_file(path)?;
    let mut n_samples = 0;
    let mut forward = |block: &[&[f32]]| {
        if let Some(samples) = block.first() {
            n_samples += samples.len();
            consume(samples);
        }
    };
    let (layout, notes) = stream_reader(path, &mut file, options, Some(channel), &mut forward)?;
    Ok(StreamedChannel {
        source_sample_rate: layout.sample_rate,
        source_format: layout.encoding.as_str().to_owned(),
        n_source_channels: layout.n_channels,
        n_samples,
        duration_ms: frames_to_ms(layout.n_frames, layout.sample_rate),
        notes,
    })
}

/// Fails with [`DecodeError::TooManyChannels`] or [`DecodeError::TooLong`] before any decoding.
fn check_limits(
    path: &Path,
    layout: &DataLayout,
    options: &DecodeOptions,
) -> Result<(), DecodeError> {
    if layout.n_channels > options.max_channels {
        return Err(DecodeError::TooManyChannels {
            path: path.to_owned(),
            n_channels: layout.n_channels,
            max_channels: options.max_channels,
        });
    }
    let duration_ms = frames_to_ms(layout.n_frames, layout.sample_rate);
    if duration_ms > options.max_duration_ms {
        return Err(DecodeError::TooLong {
            path: path.to_owned(),
            duration_ms,
            max_duration_ms: options.max_duration_ms,
        });
    }

    Ok(())
}

fn open_file(path: &Path) -> Result<std::io::BufReader<std::fs::File>, DecodeError> {
    let file = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
    Ok(std::io::BufReader::with_capacity(READ_BLOCK_BYTES, file))
}

fn io_error(path: &Path, source: std::io::Error) -> DecodeError {
    DecodeError::Io {
        path: path.to_owned(),
        source,
    }
}

fn frames_to_ms(n_frames: u64, sample_rate: u32) -> u64 {
    if sample_rate == 0 {
        return 0;
    }
    let rate = u128::from(sample_rate);
    ((u128::from(n_frames) * 1000 + rate / 2) / rate) as u64
}

// ---------------------------------------------------------------------------------------------
// Header parsing

/// Everything needed to decode the data chunk, validated against the file size.
#[derive(Debug, Clone)]
struct DataLayout {
    sample_rate: u32,
    n_channels: u16,
    encoding: SampleEncoding,
    /// Bytes per frame (all channels of one sampling instant).
    block_align: usize,
    /// Absolute offset of the first audio byte.
    data_offset: u64,
    /// Whole frames actually present in the file.
    n_frames: u64,
    notes: Vec<DecodeNote>,
}

/// The fields of a `fmt ` chunk that matter to us.
#[derive(Debug, Clone, Copy)]
struct FormatChunk {
    format_tag: u16,
    n_channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
    /// From `WAVE_FORMAT_EXTENSIBLE`: the real format tag taken from the sub-format GUID.
    extensible_sub_format: Option<ExtensibleSubFormat>,
}

#[derive(Debug, Clone, Copy)]
enum ExtensibleSubFormat {
    /// A GUID of the standard form {xxxxxxxx-0000-0010-8000-00aa00389b71}: carries a format tag.
    Tag(u16),
    Unknown([u8; 16]),
}

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Bytes 2..16 of every KSDATAFORMAT_SUBTYPE GUID derived from a plain format tag.
const KSDATAFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Names of formats seen in call-recording archives that we do not decode, for the message.
fn format_tag_name(format_tag: u16) -> String {
    let name = match format_tag {
        0x0002 => "Microsoft ADPCM",
        0x0011 => "IMA ADPCM",
        0x0022 => "DSP Group TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0042 => "G.723.1",
        0x0045 | 0x0064 | 0x0140 => "G.726 ADPCM",
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x0065 => "G.722 ADPCM",
        0x0083 | 0xA100 => "G.729",
        0x0161..=0x0163 => "Windows Media Audio",
        0x1610 | 0x00FF => "AAC",
        0xF1AC => "FLAC",
        _ => return format!("WAV format code 0x{format_tag:04X}"),
    };
    format!("{name} (WAV format code 0x{format_tag:04X})")
}

/// Reads a little-endian u16/u32 from a slice that is known to be long enough.
fn le_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}
fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(array)
}

/// Reads as many bytes as available up to `buffer.len()`; returns how many were read.
fn read_up_to<R: Read>(reader: &mut R, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Recognises a few common non-WAV audio containers so that the message can name them.
fn sniff_other_audio_format(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.len() >= magic.len() && &head[..magic.len()] == magic;
    if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        Some("MP3")
    } else if starts(b"fLaC") {
        Some("FLAC")
    } else if starts(b"OggS") {
        Some("Ogg (Vorbis/Opus)")
    } else if starts(b"FORM")
        && head.len() >= 12
        && (&head[8..12] == b"AIFF" || &head[8..12] == b"AIFC")
    {
        Some("AIFF")
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        Some("MP4/M4A")
    } else if starts(b".snd") {
        Some("Sun AU")
    } else if starts(b"#!AMR") {
        Some("AMR")
    } else if starts(b"RIFX") {
        Some("big-endian WAV (RIFX)")
    } else if starts(b"caff") {
        Some("Core Audio (CAF)")
    } else {
        None
    }
}

fn is_plausible_chunk_id(id: &[u8]) -> bool {
    id.iter().all(|byte| (0x20..=0x7E).contains(byte))
}

/// Walks the RIFF chunks up to the start of the audio and validates the format.
fn read_layout<R: Read + Seek>(path: &Path, file: &mut R) -> Result<DataLayout, DecodeError> {
    let truncated = |detail: &str| DecodeError::Truncated {
        path: path.to_owned(),
        detail: detail.to_owned(),
    };
    let bad_header = |detail: String| DecodeError::BadHeader {
        path: path.to_owned(),
        detail,
    };

    let file_len = file
        .seek(SeekFrom::End(0))
        .map_err(|source| io_error(path, source))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|source| io_error(path, source))?;
    if file_len == 0 {
        return Err(DecodeError::Empty {
            path: path.to_owned(),
        });
    }

    let mut head = [0u8; 12];
    let head_len = read_up_to(file, &mut head).map_err(|source| io_error(path, source))?;
    let head = &head[..head_len];
    let is_riff = head.len() >= 4 && (&head[..4] == b"RIFF" || &head[..4] == b"RF64");
    if !is_riff || head.len() < 12 || &head[8..12] != b"WAVE" {
        if let Some(format) = sniff_other_audio_format(head) {
            return Err(DecodeError::UnsupportedFormat {
                path: path.to_owned(),
                format: format.to_owned(),
            });
        }
        // A prefix of "RIFF....WAVE" (or "RF64....WAVE") is a WAV header cut off after a few
        // bytes.
        let magic_len = head.len().min(4);
        let looks_like_cut_wav = head.len() < 12
            && [b"RIFF", b"RF64"]
                .iter()
                .any(|magic| magic[..magic_len] == head[..magic_len])
            && (head.len() <= 8 || b"WAVE"[..head.len() - 8] == head[8..]);
        if looks_like_cut_wav {
            return Err(truncated(
                "only the first bytes of a WAV header are present",
            ));
        }
        let detail = if is_riff {
            format!(
                "a RIFF file of type '{}', not WAVE",
                String::from_utf8_lossy(&head[8.min(head.len())..])
            )
        } else {
            "it does not start with a RIFF/WAVE header".to_owned()
        };
        return Err(DecodeError::NotAudio {
            path: path.to_owned(),
            detail,
        });
    }
    let is_rf64 = &head[..4] == b"RF64";

    let mut format: Option<FormatChunk> = None;
    let mut rf64_data_size: Option<u64> = None;
    let mut position: u64 = 12;
    let mut previous_chunk_was_odd = false;
    let (data_offset, declared_data_bytes) = loop {
        file.seek(SeekFrom::Start(position))
            .map_err(|source| io_error(path, source))?;
        let mut chunk_header = [0u8; 8];
        let got = read_up_to(file, &mut chunk_header).map_err(|source| io_error(path, source))?;
        // Some writers forget the pad byte after an odd-sized chunk: if the id we land on is
        // garbage but the one a byte earlier is fine, use that one.
        if got == 8 && previous_chunk_was_odd && !is_plausible_chunk_id(&chunk_header[..4]) {
            file.seek(SeekFrom::Start(position - 1))
                .map_err(|source| io_error(path, source))?;
            let mut retry = [0u8; 8];
            if read_up_to(file, &mut retry).map_err(|source| io_error(path, source))? == 8
                && is_plausible_chunk_id(&retry[..4])
            {
                position -= 1;
                chunk_header = retry;
            }
        }
        if got < 8 {
            return Err(match format {
                None => truncated("the header ends before the audio format is described"),
                Some(_) => truncated("the header ends before any audio data (no 'data' chunk)"),
            });
        }
        let chunk_id = [
            chunk_header[0],
            chunk_header[1],
            chunk_header[2],
            chunk_header[3],
        ];
        let chunk_size = u64::from(le_u32(&chunk_header, 4));
        let body_offset = position + 8;
        match &chunk_id {
            b"fmt " if format.is_none() => {
                if chunk_size < 16 {
                    return Err(bad_header(format!(
                        "the format description is {chunk_size} bytes, at least 16 are needed"
                    )));
                }
                let wanted = usize::try_from(chunk_size)
                    .unwrap_or(usize::MAX)
                    .min(MAX_FORMAT_CHUNK_READ);
                let mut body = vec![0u8; wanted];
                let got = read_up_to(file, &mut body).map_err(|source| io_error(path, source))?;
                if got < wanted {
                    return Err(truncated(
                        "the header ends inside the audio format description",
                    ));
                }
                format = Some(parse_format_chunk(path, &body)?);
            }
            b"ds64" => {
                // RF64: the real 64-bit sizes live here (RIFF size, data size, sample count).
                let mut body = [0u8; 24];
                if chunk_size < 24
                    || read_up_to(file, &mut body).map_err(|source| io_error(path, source))? < 24
                {
                    return Err(truncated("the RF64 size table (ds64) is incomplete"));
                }
                rf64_data_size = Some(le_u64(&body, 8));
            }
            b"data" => {
                if format.is_none() {
                    return Err(bad_header(
                        "the audio data comes before the format description".to_owned(),
                    ));
                }
                let declared = if is_rf64 && chunk_size == 0xFFFF_FFFF {
                    rf64_data_size
                } else {
                    Some(chunk_size)
                };
                break (body_offset, declared);
            }
            _ => {}
        }
        previous_chunk_was_odd = chunk_size % 2 == 1;
        position = body_offset
            .saturating_add(chunk_size)
            .saturating_add(chunk_size % 2);
        if position > file_len {
            return Err(truncated("the header ends before any audio data"));
        }
    };
    // `format` is Some here: the data arm checked it.
    let Some(format) = format else {
        return Err(bad_header("no format description".to_owned()));
    };

    let (encoding, container_bytes) = validate_format(path, &format)?;
    let block_align = usize::from(format.n_channels) * container_bytes;
    let present_bytes = file_len.saturating_sub(data_offset);
    let mut notes = Vec::new();
    // A declared size of 0 is also what a writer killed before it wrote the size leaves; but
    // when a whole chunk header ("LIST", size within the file) sits where the audio would
    // start, the data really is empty and what follows is metadata, not samples.
    let data_is_empty_then_a_chunk = declared_data_bytes == Some(0) && present_bytes >= 8 && {
        let mut next = [0u8; 8];
        file.seek(SeekFrom::Start(data_offset))
            .map_err(|source| io_error(path, source))?;
        read_up_to(file, &mut next).map_err(|source| io_error(path, source))? == 8
            && is_plausible_chunk_id(&next[..4])
            && u64::from(le_u32(&next, 4)) <= present_bytes - 8
    };
    let data_bytes = match declared_data_bytes {
        Some(0) if data_is_empty_then_a_chunk => 0,
        Some(0) | Some(0xFFFF_FFFF) | None if present_bytes > 0 => {
            notes.push(DecodeNote::DataLengthUnset);
            present_bytes
        }
        Some(declared) if declared > present_bytes => {
            notes.push(DecodeNote::DataTruncated {
                declared_bytes: declared,
                present_bytes,
            });
            present_bytes
        }
        Some(declared) => declared,
        None => 0,
    };
    let n_frames = data_bytes / block_align as u64;
    let stray_bytes = data_bytes % block_align as u64;
    if n_frames == 0 {
        return Err(truncated("the file has a WAV header but no audio samples"));
    }
    if stray_bytes > 0
        && !notes
            .iter()
            .any(|note| matches!(note, DecodeNote::DataTruncated { .. }))
    {
        notes.push(DecodeNote::PartialFrameIgnored { bytes: stray_bytes });
    }

    Ok(DataLayout {
        sample_rate: format.sample_rate,
        n_channels: format.n_channels,
        encoding,
        block_align,
        data_offset,
        n_frames,
        notes,
    })
}

fn parse_format_chunk(path: &Path, body: &[u8]) -> Result<FormatChunk, DecodeError> {
    let format_tag = le_u16(body, 0);
    let mut chunk = FormatChunk {
        format_tag,
        n_channels: le_u16(body, 2),
        sample_rate: le_u32(body, 4),
        block_align: le_u16(body, 12),
        bits_per_sample: le_u16(body, 14),
        extensible_sub_format: None,
    };
    if format_tag == WAVE_FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16) after the 16 basic bytes.
        if body.len() < 40 {
            return Err(DecodeError::BadHeader {
                path: path.to_owned(),
                detail: format!(
                    "the extensible format description is {} bytes, 40 are needed",
                    body.len()
                ),
            });
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&body[24..40]);
        chunk.extensible_sub_format = Some(if guid[2..] == KSDATAFORMAT_GUID_TAIL {
            ExtensibleSubFormat::Tag(u16::from_le_bytes([guid[0], guid[1]]))
        } else {
            ExtensibleSubFormat::Unknown(guid)
        });
    }
    Ok(chunk)
}

/// Checks channels, rate, encoding and block alignment; returns the encoding and the size of
/// one sample container in bytes.
fn validate_format(
    path: &Path,
    format: &FormatChunk,
) -> Result<(SampleEncoding, usize), DecodeError> {
    let bad_header = |detail: String| DecodeError::BadHeader {
        path: path.to_owned(),
        detail,
    };
    let unsupported = |format: String| DecodeError::UnsupportedFormat {
        path: path.to_owned(),
        format,
    };

    if format.n_channels == 0 {
        return Err(bad_header("it declares 0 audio channels".to_owned()));
    }
    if !(MIN_SOURCE_SAMPLE_RATE..=MAX_SOURCE_SAMPLE_RATE).contains(&format.sample_rate) {
        return Err(bad_header(format!(
            "the sample rate {} Hz is outside the accepted {}–{} Hz",
            format.sample_rate, MIN_SOURCE_SAMPLE_RATE, MAX_SOURCE_SAMPLE_RATE
        )));
    }

    let effective_tag = match format.extensible_sub_format {
        None => format.format_tag,
        Some(ExtensibleSubFormat::Tag(tag)) => tag,
        Some(ExtensibleSubFormat::Unknown(guid)) => {
            let hex: String = guid.iter().map(|byte| format!("{byte:02x}")).collect();
            return Err(unsupported(format!(
                "an unknown extensible sub-format (GUID bytes {hex})"
            )));
        }
    };
    let bits = format.bits_per_sample;
    let encoding = match effective_tag {
        WAVE_FORMAT_PCM => match bits {
            0 => return Err(bad_header("it declares 0 bits per sample".to_owned())),
            1..=8 => SampleEncoding::PcmUnsigned8,
            9..=16 => SampleEncoding::PcmSigned16,
            17..=24 => SampleEncoding::PcmSigned24,
            25..=32 => SampleEncoding::PcmSigned32,
            _ => return Err(unsupported(format!("{bits}-bit integer PCM"))),
        },
        WAVE_FORMAT_IEEE_FLOAT => match bits {
            32 => SampleEncoding::Float32,
            64 => SampleEncoding::Float64,
            _ => return Err(unsupported(format!("{bits}-bit floating point"))),
        },
        // G.711 is 8 bits per sample by definition; the bits field is not always filled in.
        WAVE_FORMAT_MULAW => SampleEncoding::MuLaw,
        WAVE_FORMAT_ALAW => SampleEncoding::ALaw,
        other => return Err(unsupported(format_tag_name(other))),
    };
    let container_bytes = encoding.bytes_per_sample();
    let expected_block_align = usize::from(format.n_channels) * container_bytes;
    if usize::from(format.block_align) != expected_block_align {
        return Err(bad_header(format!(
            "its block alignment is {} bytes, but {} channel(s) of {} samples need {}",
            format.block_align,
            format.n_channels,
            encoding.as_str(),
            expected_block_align
        )));
    }
    Ok((encoding, container_bytes))
}

// ---------------------------------------------------------------------------------------------
// Sample conversion

/// G.711 mu-law byte → 16-bit linear (ITU-T G.711, as in the reference `ulaw2linear`).
const fn mulaw_to_linear(byte: u8) -> i16 {
    let inverted = !byte;
    let magnitude = ((((inverted & 0x0F) as i32) << 3) + 0x84) << ((inverted & 0x70) >> 4);
    (if inverted & 0x80 != 0 {
        0x84 - magnitude
    } else {
        magnitude - 0x84
    }) as i16
}

/// G.711 A-law byte → 16-bit linear (ITU-T G.711, as in the reference `alaw2linear`).
const fn alaw_to_linear(byte: u8) -> i16 {
    let toggled = byte ^ 0x55;
    let mut magnitude = ((toggled & 0x0F) as i32) << 4;
    let segment = (toggled & 0x70) >> 4;
    magnitude = match segment {
        0 => magnitude + 8,
        1 => magnitude + 0x108,
        _ => (magnitude + 0x108) << (segment - 1),
    };
    (if toggled & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

const fn g711_table(is_mulaw: bool) -> [f32; 256] {
    let mut table = [0f32; 256];
    let mut index = 0;
    while index < 256 {
        let linear = if is_mulaw {
            mulaw_to_linear(index as u8)
        } else {
            alaw_to_linear(index as u8)
        };
        table[index] = linear as f32 / 32768.0;
        index += 1;
    }
    table
}

static MULAW_TABLE: [f32; 256] = g711_table(true);
static ALAW_TABLE: [f32; 256] = g711_table(false);

/// Converts one stored sample to f32 (not yet clamped or checked for NaN).
fn sample_to_f32(encoding: SampleEncoding, bytes: &[u8]) -> f32 {
    match encoding {
        SampleEncoding::PcmUnsigned8 => (f32::from(bytes[0]) - 128.0) / 128.0,
        SampleEncoding::PcmSigned16 => {
            f32::from(i16::from_le_bytes([bytes[0], bytes[1]])) / 32_768.0
        }
        SampleEncoding::PcmSigned24 => {
            // Put the 3 bytes in the top of an i32 and shift back to sign-extend.
            let value = i32::from_le_bytes([0, bytes[0], bytes[1], bytes[2]]) >> 8;
            value as f32 / 8_388_608.0
        }
        SampleEncoding::PcmSigned32 => {
            (f64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                / 2_147_483_648.0) as f32
        }
        SampleEncoding::Float32 => f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        SampleEncoding::Float64 => {
            let mut array = [0u8; 8];
            array.copy_from_slice(&bytes[..8]);
            f64::from_le_bytes(array) as f32
        }
        SampleEncoding::MuLaw => MULAW_TABLE[usize::from(bytes[0])],
        SampleEncoding::ALaw => ALAW_TABLE[usize::from(bytes[0])],
    }
}

/// Streams the data chunk through sample conversion and the resampler. Every channel is
/// converted and checked (so notes and errors do not depend on `only_channel`), but only the
/// kept channels go through the resampler and into the output.
fn decode_and_resample<R: Read>(
    path: &Path,
    reader: &mut R,
    layout: &DataLayout,
    only_channel: Option<usize>,
    notes: &mut Vec<DecodeNote>,
    output: &mut dyn FnMut(&[&[f32]]),
) -> Result<(), DecodeError> {
    let n_channels = usize::from(layout.n_channels);
    let kept: Vec<usize> = match only_channel {
        None => (0..n_channels).collect(),
        Some(channel) if channel < n_channels => vec![channel],
        Some(_) => Vec::new(),
    };
    let n_frames = usize::try_from(layout.n_frames).unwrap_or(usize::MAX);
    let total_samples = layout.n_frames.saturating_mul(u64::from(layout.n_channels));
    let max_non_finite = (total_samples as f64 * MAX_NON_FINITE_FRACTION).floor() as u64;
    let mut n_non_finite: u64 = 0;
    let mut n_clamped: u64 = 0;

    if kept.is_empty() {
        return Ok(());
    }
    let mut sink = ResamplingSink::new(
        path,
        layout.sample_rate,
        kept.len(),
        layout.n_frames,
        output,
    )?;
    let frames_per_block = (READ_BLOCK_BYTES / layout.block_align).max(1);
    let mut block = vec![0u8; frames_per_block * layout.block_align];
    // Index in `staged` of each source channel, `None` for channels that are not kept.
    let slot_of: Vec<Option<usize>> = (0..n_channels)
        .map(|channel| kept.iter().position(|&kept| kept == channel))
        .collect();
    let mut staged: Vec<Vec<f32>> = vec![Vec::with_capacity(frames_per_block); kept.len()];
    let sample_bytes = layout.encoding.bytes_per_sample();
    let is_float = layout.encoding.is_float();

    let mut frames_left = n_frames;
    while frames_left > 0 {
        let frames_now = frames_left.min(frames_per_block);
        let bytes_now = frames_now * layout.block_align;
        let got =
            read_up_to(reader, &mut block[..bytes_now]).map_err(|source| io_error(path, source))?;
        // The file can shrink between the size check and here (a copy still being written):
        // decode the whole frames we got and stop.
        let frames_got = got / layout.block_align;
        for channel in staged.iter_mut() {
            channel.clear();
        }
        for frame in block[..frames_got * layout.block_align].chunks_exact(layout.block_align) {
            for (channel_index, sample) in frame.chunks_exact(sample_bytes).enumerate() {
                let mut value = sample_to_f32(layout.encoding, sample);
                if is_float {
                    if !value.is_finite() {
                        n_non_finite += 1;
                        value = 0.0;
                    } else if value.abs() > 1.0 {
                        n_clamped += 1;
                        value = value.clamp(-1.0, 1.0);
                    }
                }
                if let Some(slot) = slot_of[channel_index] {
                    staged[slot].push(value);
                }
            }
        }
        if n_non_finite > max_non_finite {
            return Err(DecodeError::InvalidSamples {
                path: path.to_owned(),
                n_invalid: n_non_finite,
            });
        }
        sink.push(&staged)?;
        if frames_got < frames_now {
            break;
        }
        frames_left -= frames_now;
    }
    if n_non_finite > 0 {
        notes.push(DecodeNote::NonFiniteSamplesZeroed {
            count: n_non_finite,
        });
    }
    if n_clamped > 0 {
        notes.push(DecodeNote::FloatSamplesClamped { count: n_clamped });
    }
    sink.finish()
}

// ---------------------------------------------------------------------------------------------
// Resampling

/// Collects converted input and produces 16 kHz output, either by copying (16 kHz input) or
/// through rubato's FFT resampler.
struct ResamplingSink<'a> {
    path: &'a Path,
    /// Receives the 16 kHz output in order, one slice per kept channel, all of equal length.
    output: &'a mut dyn FnMut(&[&[f32]]),
    /// Output frames handed to `output` so far.
    n_emitted: usize,
    resampler: Option<FftFixedIn<f32>>,
    /// Input waiting for a full resampler chunk.
    pending_input: Vec<Vec<f32>>,
    /// Scratch output of one resampler call.
    chunk_output: Vec<Vec<f32>>,
    /// Output frames still to drop at the start: the resampler's filter delay.
    delay_frames_left: usize,
    /// Output length that exactly matches the input duration.
    expected_output_frames: usize,
}

impl<'a> ResamplingSink<'a> {
    fn new(
        path: &'a Path,
        source_rate: u32,
        n_channels: usize,
        n_input_frames: u64,
        output: &'a mut dyn FnMut(&[&[f32]]),
    ) -> Result<Self, DecodeError> {
        // ceil(n * 16000 / rate): the last partial output period still gets a sample.
        let expected = (u128::from(n_input_frames) * u128::from(TARGET_SAMPLE_RATE))
            .div_ceil(u128::from(source_rate));
        let expected_output_frames = usize::try_from(expected).unwrap_or(usize::MAX);
        let resampler = if source_rate == TARGET_SAMPLE_RATE {
            None
        } else {
            let resampler = FftFixedIn::<f32>::new(
                source_rate as usize,
                TARGET_SAMPLE_RATE as usize,
                RESAMPLER_CHUNK_FRAMES,
                1,
                n_channels,
            )
            .map_err(|error| DecodeError::BadHeader {
                path: path.to_owned(),
                detail: format!("cannot resample from {source_rate} Hz: {error}"),
            })?;
            Some(resampler)
        };
        let delay_frames_left = resampler
            .as_ref()
            .map_or(0, |resampler| resampler.output_delay());
        let chunk_output = match &resampler {
            Some(resampler) => vec![vec![0f32; resampler.output_frames_max()]; n_channels],
            None => Vec::new(),
        };
        Ok(ResamplingSink {
            path,
            output,
            n_emitted: 0,
            resampler,
            pending_input: vec![Vec::new(); n_channels],
            chunk_output,
            delay_frames_left,
            expected_output_frames,
        })
    }

    /// Rates and channel counts were validated before, so rubato should never fail here;
    /// if it does, it is reported against the file rather than panicking.
    fn resample_error(path: &Path, error: rubato::ResampleError) -> DecodeError {
        DecodeError::BadHeader {
            path: path.to_owned(),
            detail: format!("resampling failed: {error}"),
        }
    }

    fn push(&mut self, input: &[Vec<f32>]) -> Result<(), DecodeError> {
        if self.resampler.is_none() {
            let channels: Vec<&[f32]> = input.iter().map(Vec::as_slice).collect();
            self.n_emitted += channels.first().map_or(0, |channel| channel.len());
            (self.output)(&channels);
            return Ok(());
        }
        for (pending, channel) in self.pending_input.iter_mut().zip(input) {
            pending.extend_from_slice(channel);
        }
        let mut consumed = 0;
        while let Some(resampler) = self.resampler.as_mut() {
            let needed = resampler.input_frames_next();
            let available = self
                .pending_input
                .first()
                .map_or(0, |pending| pending.len() - consumed);
            if available < needed {
                break;
            }
            let chunk: Vec<&[f32]> = self
                .pending_input
                .iter()
                .map(|pending| &pending[consumed..consumed + needed])
                .collect();
            let (_, produced) = resampler
                .process_into_buffer(&chunk, &mut self.chunk_output, None)
                .map_err(|error| Self::resample_error(self.path, error))?;
            consumed += needed;
            self.emit_resampled(produced);
        }
        for pending in self.pending_input.iter_mut() {
            pending.drain(..consumed);
        }
        Ok(())
    }

    /// Hands on `produced` frames of `chunk_output`: first drops the filter delay, never goes
    /// past the expected length, and clamps (the band-limiting filter can overshoot slightly on
    /// clipped input).
    fn emit_resampled(&mut self, produced: usize) {
        let skip = self.delay_frames_left.min(produced);
        self.delay_frames_left -= skip;
        let room = self.expected_output_frames.saturating_sub(self.n_emitted);
        let end = produced.min(skip + room);
        if end <= skip {
            return;
        }
        for chunk in self.chunk_output.iter_mut() {
            for sample in &mut chunk[skip..end] {
                *sample = sample.clamp(-1.0, 1.0);
            }
        }
        let channels: Vec<&[f32]> = self
            .chunk_output
            .iter()
            .map(|chunk| &chunk[skip..end])
            .collect();
        (self.output)(&channels);
        self.n_emitted += end - skip;
    }

    /// Feeds the remaining input and enough silence to flush the filter, so that exactly the
    /// expected length comes out.
    fn finish(mut self) -> Result<(), DecodeError> {
        if self.resampler.is_some() {
            let mut is_first_partial = true;
            // rubato's FFT resampler takes input in chunks of `RESAMPLER_CHUNK_FRAMES` but
            // transforms blocks of its own FFT size, which can be larger (4410 frames at
            // 44.1 kHz): a call can then produce nothing while it fills the next block. A
            // recording shorter than one block used to come out empty for that reason. Two
            // calls always complete a block, so only a longer run of empty calls means
            // something is wrong.
            let mut empty_calls_in_a_row = 0;
            while self.n_emitted < self.expected_output_frames {
                let Some(resampler) = self.resampler.as_mut() else {
                    break;
                };
                let has_pending = self
                    .pending_input
                    .first()
                    .is_some_and(|pending| !pending.is_empty());
                let result = if is_first_partial && has_pending {
                    let chunk: Vec<&[f32]> = self.pending_input.iter().map(Vec::as_slice).collect();
                    resampler.process_partial_into_buffer(
                        Some(&chunk),
                        &mut self.chunk_output,
                        None,
                    )
                } else {
                    resampler.process_partial_into_buffer(
                        None::<&[&[f32]]>,
                        &mut self.chunk_output,
                        None,
                    )
                };
                is_first_partial = false;
                let (_, produced) = match result {
                    Ok(counts) => counts,
                    Err(error) => return Err(Self::resample_error(self.path, error)),
                };
                if produced == 0 {
                    empty_calls_in_a_row += 1;
                    if empty_calls_in_a_row > 3 {
                        break;
                    }
                    continue;
                }
                empty_calls_in_a_row = 0;
                self.emit_resampled(produced);
            }
            // Exactly the promised length: silence only if the resampler stopped early, which
            // the loop above does not let happen.
            let missing = self.expected_output_frames.saturating_sub(self.n_emitted);
            if missing > 0 {
                let silence = vec![0f32; missing];
                let channels = vec![silence.as_slice(); self.chunk_output.len()];
                (self.output)(&channels);
                self.n_emitted += missing;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    // ---- test WAV writers ------------------------------------------------------------------

    /// Which `fmt ` layout a test file uses.
    #[derive(Clone, Copy)]
    enum Header {
        /// Plain tag, fmt chunk of 16 bytes (PCM/float) or 18 bytes (G.711, with cbSize 0).
        Plain,
        /// WAVE_FORMAT_EXTENSIBLE carrying the tag in the sub-format GUID.
        Extensible,
    }

    struct WavSpec {
        format_tag: u16,
        n_channels: u16,
        sample_rate: u32,
        bits_per_sample: u16,
        block_align: u16,
        header: Header,
    }

    fn wav_bytes(spec: &WavSpec, data: &[u8], declared_data_len: Option<u32>) -> Vec<u8> {
        let mut fmt = Vec::new();
        let tag = match spec.header {
            Header::Plain => spec.format_tag,
            Header::Extensible => WAVE_FORMAT_EXTENSIBLE,
        };
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&spec.n_channels.to_le_bytes());
        fmt.extend_from_slice(&spec.sample_rate.to_le_bytes());
        let byte_rate = spec.sample_rate * u32::from(spec.block_align);
        fmt.extend_from_slice(&byte_rate.to_le_bytes());
        fmt.extend_from_slice(&spec.block_align.to_le_bytes());
        fmt.extend_from_slice(&spec.bits_per_sample.to_le_bytes());
        match spec.header {
            Header::Plain => {
                if spec.format_tag == WAVE_FORMAT_MULAW || spec.format_tag == WAVE_FORMAT_ALAW {
                    fmt.extend_from_slice(&0u16.to_le_bytes());
                }
            }
            Header::Extensible => {
                fmt.extend_from_slice(&22u16.to_le_bytes());
                fmt.extend_from_slice(&spec.bits_per_sample.to_le_bytes());
                let mask: u32 = if spec.n_channels == 1 { 4 } else { 3 };
                fmt.extend_from_slice(&mask.to_le_bytes());
                fmt.extend_from_slice(&spec.format_tag.to_le_bytes());
                fmt.extend_from_slice(&KSDATAFORMAT_GUID_TAIL);
            }
        }
        let mut body = Vec::new();
        body.extend_from_slice(b"WAVE");
        body.extend_from_slice(b"fmt ");
        body.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        body.extend_from_slice(&fmt);
        // A LIST chunk with odd size before the data, to exercise chunk skipping and padding.
        body.extend_from_slice(b"LIST");
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"abc\0");
        body.extend_from_slice(b"data");
        body.extend_from_slice(&declared_data_len.unwrap_or(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        let mut file = Vec::new();
        file.extend_from_slice(b"RIFF");
        file.extend_from_slice(&(body.len() as u32).to_le_bytes());
        file.extend_from_slice(&body);
        file
    }

    fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write test file");
        path
    }

    /// G.711 encoders (ITU-T reference algorithms), only needed to make test files.
    fn linear_to_mulaw(sample: i16) -> u8 {
        const BIAS: i32 = 0x84;
        const CLIP: i32 = 32_635;
        let mut value = i32::from(sample);
        let sign = if value < 0 { 0x80 } else { 0 };
        if value < 0 {
            value = -value;
        }
        value = value.min(CLIP) + BIAS;
        let mut exponent = 7;
        let mut mask = 0x4000;
        while exponent > 0 && value & mask == 0 {
            exponent -= 1;
            mask >>= 1;
        }
        let mantissa = (value >> (exponent + 3)) & 0x0F;
        !((sign | (exponent << 4) | mantissa) as u8)
    }

    fn linear_to_alaw(sample: i16) -> u8 {
        let mut value = i32::from(sample) >> 3; // 13-bit
        let sign = if value >= 0 { 0x80 } else { 0 };
        if value < 0 {
            value = -value - 1;
        }
        let segment_ends = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
        let segment = segment_ends
            .iter()
            .position(|&end| value <= end)
            .unwrap_or(8) as i32;
        let code = if segment >= 8 {
            0x7F
        } else {
            let shift = if segment < 2 { 1 } else { segment };
            (segment << 4) | ((value >> shift) & 0x0F)
        };
        ((sign | code) as u8) ^ 0x55
    }

    fn sine(frequency: f32, sample_rate: u32, n: usize, amplitude: f32, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                amplitude * (2.0 * PI * frequency * i as f32 / sample_rate as f32 + phase).sin()
            })
            .collect()
    }

    /// Encodes interleaved f32 samples in `encoding`.
    fn encode(encoding: SampleEncoding, interleaved: &[f32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for &sample in interleaved {
            let as_i16 = (sample * 32767.0).round() as i16;
            match encoding {
                SampleEncoding::PcmUnsigned8 => {
                    bytes.push(((sample * 127.0).round() + 128.0) as u8)
                }
                SampleEncoding::PcmSigned16 => bytes.extend_from_slice(&as_i16.to_le_bytes()),
                SampleEncoding::PcmSigned24 => {
                    let value = (sample * 8_388_607.0).round() as i32;
                    bytes.extend_from_slice(&value.to_le_bytes()[..3]);
                }
                SampleEncoding::PcmSigned32 => {
                    let value = (f64::from(sample) * 2_147_483_647.0).round() as i32;
                    bytes.extend_from_slice(&value.to_le_bytes());
                }
                SampleEncoding::Float32 => bytes.extend_from_slice(&sample.to_le_bytes()),
                SampleEncoding::Float64 => {
                    bytes.extend_from_slice(&f64::from(sample).to_le_bytes())
                }
                SampleEncoding::MuLaw => bytes.push(linear_to_mulaw(as_i16)),
                SampleEncoding::ALaw => bytes.push(linear_to_alaw(as_i16)),
            }
        }
        bytes
    }

    fn spec_for(
        encoding: SampleEncoding,
        n_channels: u16,
        sample_rate: u32,
        header: Header,
    ) -> WavSpec {
        let (format_tag, bits) = match encoding {
            SampleEncoding::PcmUnsigned8 => (WAVE_FORMAT_PCM, 8),
            SampleEncoding::PcmSigned16 => (WAVE_FORMAT_PCM, 16),
            SampleEncoding::PcmSigned24 => (WAVE_FORMAT_PCM, 24),
            SampleEncoding::PcmSigned32 => (WAVE_FORMAT_PCM, 32),
            SampleEncoding::Float32 => (WAVE_FORMAT_IEEE_FLOAT, 32),
            SampleEncoding::Float64 => (WAVE_FORMAT_IEEE_FLOAT, 64),
            SampleEncoding::MuLaw => (WAVE_FORMAT_MULAW, 8),
            SampleEncoding::ALaw => (WAVE_FORMAT_ALAW, 8),
        };
        WavSpec {
            format_tag,
            n_channels,
            sample_rate,
            bits_per_sample: bits,
            block_align: n_channels * (bits / 8),
            header,
        }
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
    }

    /// Frequency by counting rising zero crossings, with linear interpolation at both ends.
    fn zero_crossing_frequency(samples: &[f32], sample_rate: u32) -> f32 {
        let crossings: Vec<f32> = samples
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| pair[0] < 0.0 && pair[1] >= 0.0)
            .map(|(i, pair)| i as f32 + (-pair[0]) / (pair[1] - pair[0]))
            .collect();
        let periods = (crossings.len() - 1) as f32;
        periods * sample_rate as f32 / (crossings[crossings.len() - 1] - crossings[0])
    }

    const ALL_ENCODINGS: [SampleEncoding; 8] = [
        SampleEncoding::PcmUnsigned8,
        SampleEncoding::PcmSigned16,
        SampleEncoding::PcmSigned24,
        SampleEncoding::PcmSigned32,
        SampleEncoding::Float32,
        SampleEncoding::Float64,
        SampleEncoding::MuLaw,
        SampleEncoding::ALaw,
    ];

    // ---- formats ---------------------------------------------------------------------------

    #[test]
    fn every_encoding_decodes_plain_and_extensible_mono_and_stereo() {
        let dir = tempfile::tempdir().unwrap();
        let left = sine(440.0, 16_000, 1600, 0.5, 0.0);
        let right = sine(700.0, 16_000, 1600, 0.25, 1.0);
        for encoding in ALL_ENCODINGS {
            // Quantisation error allowed per encoding (G.711 is ~1/32 relative near 0.5).
            let tolerance = match encoding {
                SampleEncoding::PcmUnsigned8 => 0.01,
                SampleEncoding::MuLaw | SampleEncoding::ALaw => 0.02,
                _ => 1e-4,
            };
            for header in [Header::Plain, Header::Extensible] {
                for n_channels in [1u16, 2] {
                    let interleaved: Vec<f32> = if n_channels == 1 {
                        left.clone()
                    } else {
                        left.iter()
                            .zip(&right)
                            .flat_map(|(l, r)| [*l, *r])
                            .collect()
                    };
                    let spec = spec_for(encoding, n_channels, 16_000, header);
                    let bytes = wav_bytes(&spec, &encode(encoding, &interleaved), None);
                    let path = write_temp(&dir, "format.wav", &bytes);
                    let label = format!(
                        "{} {} ch {}",
                        encoding.as_str(),
                        n_channels,
                        if matches!(header, Header::Plain) {
                            "plain"
                        } else {
                            "extensible"
                        }
                    );
                    let audio = decode_file(&path, &DecodeOptions::default())
                        .unwrap_or_else(|error| panic!("{label}: {error}"));
                    assert_eq!(audio.source_format, encoding.as_str(), "{label}");
                    assert_eq!(audio.n_source_channels, n_channels, "{label}");
                    assert_eq!(audio.channels.len(), usize::from(n_channels), "{label}");
                    assert_eq!(audio.duration_ms, 100, "{label}");
                    assert!(audio.notes.is_empty(), "{label}: {:?}", audio.notes);
                    let expected_channels = [&left, &right];
                    for (channel, expected) in audio.channels.iter().zip(expected_channels) {
                        assert_eq!(channel.len(), expected.len(), "{label}");
                        let worst = channel
                            .iter()
                            .zip(expected.iter())
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f32::max);
                        assert!(worst <= tolerance, "{label}: worst error {worst}");
                    }
                    let info = probe_file(&path).unwrap();
                    assert_eq!(
                        (info.sample_rate, info.n_channels, info.n_frames),
                        (16_000, n_channels, 1600)
                    );
                }
            }
        }
    }

    #[test]
    fn g711_tables_match_reference_values() {
        // Reference points of ITU-T G.711: silence codes and the extreme codes.
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0x00), -32_124);
        assert_eq!(mulaw_to_linear(0x80), 32_124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32_256);
        assert_eq!(alaw_to_linear(0x2A), -32_256);
        // Encoding then decoding is close for every 16-bit value step.
        for value in (-32_000i32..32_000).step_by(97) {
            let value = value as i16;
            let mu = mulaw_to_linear(linear_to_mulaw(value));
            let a = alaw_to_linear(linear_to_alaw(value));
            let allowed = (i32::from(value).abs() / 16).max(16);
            assert!(
                (i32::from(mu) - i32::from(value)).abs() <= allowed,
                "mu {value} -> {mu}"
            );
            assert!(
                (i32::from(a) - i32::from(value)).abs() <= allowed,
                "a {value} -> {a}"
            );
        }
    }

    #[test]
    fn pcm_16k_passes_through_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<i16> = (0..3000)
            .map(|i| ((i * 7919) % 65_536 - 32_768) as i16)
            .collect();
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 16_000, Header::Plain);
        let path = write_temp(&dir, "pass.wav", &wav_bytes(&spec, &data, None));
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        let expected: Vec<f32> = values.iter().map(|v| f32::from(*v) / 32_768.0).collect();
        assert_eq!(audio.channels[0], expected);
    }

    #[test]
    fn odd_width_pcm_in_container_decodes() {
        // 12-bit samples left-justified in 16-bit containers (some telephony cards write this).
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<i16> = vec![0x7FF0, -0x8000, 0x0010, 0];
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 16_000, Header::Plain);
        spec.bits_per_sample = 12;
        let path = write_temp(&dir, "twelve.wav", &wav_bytes(&spec, &data, None));
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        assert_eq!(audio.source_format, "pcm_s16le");
        assert_eq!(audio.channels[0][1], -1.0);
    }

    // ---- resampling --------------------------------------------------------------------------

    #[test]
    fn resampling_8k_to_16k_keeps_frequency_level_and_length() {
        let dir = tempfile::tempdir().unwrap();
        let n_input = 8_000 + 37; // not a multiple of any chunk size: exercises the tail
        let input = sine(1000.0, 8_000, n_input, 0.5, 0.3);
        let spec = spec_for(SampleEncoding::Float32, 1, 8_000, Header::Plain);
        let path = write_temp(
            &dir,
            "8k.wav",
            &wav_bytes(&spec, &encode(SampleEncoding::Float32, &input), None),
        );
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        let output = &audio.channels[0];
        assert_eq!(output.len(), n_input * 2);
        // Away from the edges the sine is clean: same frequency, same level.
        let middle = &output[800..output.len() - 800];
        let frequency = zero_crossing_frequency(middle, 16_000);
        assert!((frequency - 1000.0).abs() < 1.0, "frequency {frequency}");
        let level_db = 20.0 * (rms(middle) / (0.5 / 2f32.sqrt())).log10();
        assert!(level_db.abs() < 0.1, "level change {level_db} dB");
        // Aligned in time: the resampler delay was removed (compare with the ideal sine).
        let ideal = sine(1000.0, 16_000, output.len(), 0.5, 0.3);
        let worst = middle
            .iter()
            .zip(&ideal[800..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 0.01, "misaligned or distorted: worst error {worst}");
        // The tail is kept: the last 50 ms still carry the sine at full level.
        let tail = &output[output.len() - 800..output.len() - 16];
        assert!(rms(tail) > 0.3, "tail lost: rms {}", rms(tail));
    }

    #[test]
    fn resampling_from_other_rates_gives_exact_lengths_and_frequency() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [11_025u32, 22_050, 44_100, 48_000, 12_345, 96_000] {
            let n_input = rate as usize / 2 + 11;
            let input = sine(1000.0, rate, n_input, 0.5, 0.0);
            let stereo: Vec<f32> = input.iter().flat_map(|s| [*s, -*s]).collect();
            let spec = spec_for(SampleEncoding::PcmSigned16, 2, rate, Header::Plain);
            let path = write_temp(
                &dir,
                "rate.wav",
                &wav_bytes(&spec, &encode(SampleEncoding::PcmSigned16, &stereo), None),
            );
            let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
            let expected_len = (n_input as u64 * 16_000).div_ceil(u64::from(rate)) as usize;
            assert_eq!(audio.channels[0].len(), expected_len, "rate {rate}");
            assert_eq!(audio.channels[1].len(), expected_len, "rate {rate}");
            let middle = &audio.channels[0][1000..expected_len - 1000];
            let frequency = zero_crossing_frequency(middle, 16_000);
            assert!(
                (frequency - 1000.0).abs() < 1.0,
                "rate {rate}: frequency {frequency}"
            );
            assert!(
                (rms(middle) - 0.3536).abs() < 0.01,
                "rate {rate}: rms {}",
                rms(middle)
            );
            let anti = audio.channels[1][1000..expected_len - 1000]
                .iter()
                .zip(middle)
                .map(|(a, b)| (a + b).abs())
                .fold(0.0, f32::max);
            assert!(anti < 1e-3, "channels mixed up at rate {rate}");
        }
    }

    /// Found by the `decode` fuzz target: a 95-frame 44.1 kHz file decoded to 0 samples.
    #[test]
    fn very_short_files_at_any_rate_give_exact_lengths() {
        let mut failures = Vec::new();
        for rate in [
            4_000u32, 8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000,
        ] {
            for n_input in [1usize, 2, 3, 95, 500, 1_000, 4_095, 4_096, 4_097, 9_000] {
                let input = sine(440.0, rate, n_input, 0.3, 0.0);
                let spec = spec_for(SampleEncoding::PcmSigned16, 1, rate, Header::Plain);
                let bytes = wav_bytes(&spec, &encode(SampleEncoding::PcmSigned16, &input), None);
                let audio = decode_bytes(&bytes, &DecodeOptions::default()).unwrap();
                let expected = (n_input as u64 * 16_000).div_ceil(u64::from(rate)) as usize;
                if audio.channels[0].len() != expected {
                    failures.push(format!(
                        "{rate} Hz × {n_input}: {} samples, expected {expected}",
                        audio.channels[0].len()
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn resampling_44k_removes_content_above_8k() {
        // A 12 kHz tone cannot exist at 16 kHz: the band-limited resampler must remove it
        // instead of folding it down to 4 kHz.
        let dir = tempfile::tempdir().unwrap();
        let input = sine(12_000.0, 44_100, 22_050, 0.5, 0.0);
        let spec = spec_for(SampleEncoding::Float32, 1, 44_100, Header::Plain);
        let path = write_temp(
            &dir,
            "alias.wav",
            &wav_bytes(&spec, &encode(SampleEncoding::Float32, &input), None),
        );
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        let middle = &audio.channels[0][1000..7000];
        assert!(rms(middle) < 0.001, "aliasing: rms {}", rms(middle));
    }

    // ---- damaged and unsupported files -------------------------------------------------------

    fn decode_error_kind(bytes: &[u8]) -> &'static str {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "bad.wav", bytes);
        match decode_file(&path, &DecodeOptions::default()) {
            Ok(_) => "ok",
            Err(error) => {
                assert_eq!(error.path(), path.as_path());
                assert!(
                    error.to_string().contains("bad.wav"),
                    "message must name the file: {error}"
                );
                error.kind()
            }
        }
    }

    fn valid_pcm16_file(n_frames: usize) -> Vec<u8> {
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        wav_bytes(
            &spec,
            &encode(
                SampleEncoding::PcmSigned16,
                &sine(300.0, 8_000, n_frames, 0.3, 0.0),
            ),
            None,
        )
    }

    #[test]
    fn malformed_inputs_get_distinct_error_kinds() {
        assert_eq!(decode_error_kind(b""), "empty");
        assert_eq!(
            decode_error_kind(b"Call notes: customer asked about fees.\n"),
            "not_audio"
        );
        assert_eq!(
            decode_error_kind(b"RIFF\x10\x00\x00\x00AVI LIST"),
            "not_audio"
        );
        // Found by the fuzzer: the first bytes of an RF64 header panicked (a slice past the
        // end) instead of being reported as a cut-off WAV.
        for cut in [
            &b"RF64"[..],
            b"RF6",
            b"RF64\x00\x00",
            b"RF64\xff\xff\xff\xffWA",
        ] {
            assert_eq!(decode_error_kind(cut), "truncated", "{cut:?}");
        }
        // Short RIFF or RF64 files whose type is not WAVE are not audio.
        for other in [&b"RF64\x00\x00\x00\x00AV"[..], b"RIFF\x00\x00\x00\x00AVI"] {
            assert_eq!(decode_error_kind(other), "not_audio", "{other:?}");
        }
        assert_eq!(
            decode_error_kind(b"ID3\x03\x00\x00\x00\x00\x00\x00"),
            "unsupported_format"
        );
        assert_eq!(
            decode_error_kind(b"fLaC\x00\x00\x00\x22"),
            "unsupported_format"
        );
        let valid = valid_pcm16_file(800);
        assert_eq!(decode_error_kind(&valid[..6]), "truncated");
        assert_eq!(decode_error_kind(&valid[..24]), "truncated");
        // Header complete (fmt, LIST, data header) but no sample bytes.
        let header_len = valid.len() - 1600;
        assert_eq!(decode_error_kind(&valid[..header_len]), "truncated");
        assert_eq!(decode_error_kind(&valid[..12]), "truncated");

        let data = encode(SampleEncoding::PcmSigned16, &[0.0; 100]);
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        spec.n_channels = 0;
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "bad_header"
        );
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        spec.sample_rate = 100;
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "bad_header"
        );
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        spec.sample_rate = 1_000_000;
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "bad_header"
        );
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 2, 8_000, Header::Plain);
        spec.block_align = 2;
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "bad_header"
        );
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        spec.format_tag = 0x0011; // IMA ADPCM
        spec.bits_per_sample = 4;
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "unsupported_format"
        );
        let mut spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Extensible);
        spec.format_tag = 0x0031; // GSM 6.10 inside EXTENSIBLE
        assert_eq!(
            decode_error_kind(&wav_bytes(&spec, &data, None)),
            "unsupported_format"
        );

        let spec = spec_for(SampleEncoding::PcmSigned16, 3, 8_000, Header::Plain);
        assert_eq!(
            decode_error_kind(&wav_bytes(
                &spec,
                &encode(SampleEncoding::PcmSigned16, &[0.0; 300]),
                None
            )),
            "too_many_channels"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.wav");
        assert_eq!(
            decode_file(&missing, &DecodeOptions::default())
                .unwrap_err()
                .kind(),
            "io"
        );
    }

    #[test]
    fn error_messages_are_plain_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "call 17.wav", b"");
        let message = decode_file(&path, &DecodeOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("call 17.wav") && message.contains("empty"),
            "{message}"
        );
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 8_000, Header::Plain);
        let path = write_temp(
            &dir,
            "long.wav",
            &wav_bytes(
                &spec,
                &encode(SampleEncoding::PcmSigned16, &[0.0; 16_000]),
                None,
            ),
        );
        let options = DecodeOptions {
            max_duration_ms: 1_000,
            ..DecodeOptions::default()
        };
        let error = decode_file(&path, &options).unwrap_err();
        assert_eq!(error.kind(), "too_long");
        assert!(
            error.to_string().contains("2.000 s") && error.to_string().contains("1.000 s"),
            "{error}"
        );
    }

    #[test]
    fn truncated_data_is_decoded_as_far_as_it_goes() {
        let valid = valid_pcm16_file(8_000);
        let cut = &valid[..valid.len() - 8_001]; // also leaves half a frame at the end
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "cut.wav", cut);
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        assert_eq!(audio.channels[0].len(), (8_000 - 4_001) * 2);
        assert!(
            matches!(
                audio.notes.as_slice(),
                [DecodeNote::DataTruncated {
                    declared_bytes: 16_000,
                    present_bytes: 7_999
                }]
            ),
            "{:?}",
            audio.notes
        );
        assert!(probe_file(&path).unwrap().data_truncated);
    }

    #[test]
    fn unset_data_length_reads_to_end_of_file() {
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 16_000, Header::Plain);
        let data = encode(
            SampleEncoding::PcmSigned16,
            &sine(200.0, 16_000, 1000, 0.5, 0.0),
        );
        let dir = tempfile::tempdir().unwrap();
        for declared in [0u32, 0xFFFF_FFFF] {
            let path = write_temp(&dir, "unset.wav", &wav_bytes(&spec, &data, Some(declared)));
            let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
            assert_eq!(audio.channels[0].len(), 1000);
            assert_eq!(audio.notes, vec![DecodeNote::DataLengthUnset]);
        }
    }

    /// A declared length of 0 followed by a whole chunk (LIST metadata) is an empty recording,
    /// not a length left unwritten: the metadata bytes are not decoded as audio.
    #[test]
    fn empty_data_followed_by_a_chunk_is_empty_not_unset() {
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 16_000, Header::Plain);
        let mut list = b"LIST".to_vec();
        list.extend_from_slice(&26u32.to_le_bytes());
        list.extend_from_slice(b"INFOISFT\x0e\x00\x00\x00Lavf58.76.100\x00");
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "empty.wav", &wav_bytes(&spec, &list, Some(0)));
        let error = decode_file(&path, &DecodeOptions::default()).unwrap_err();
        assert!(matches!(error, DecodeError::Truncated { .. }), "{error:?}");
        assert!(error.to_string().contains("no audio samples"), "{error}");
        // Audio bytes after a 0 length are still read to the end, as before.
        let data = encode(
            SampleEncoding::PcmSigned16,
            &sine(200.0, 16_000, 1000, 0.5, 0.0),
        );
        let path = write_temp(&dir, "unset.wav", &wav_bytes(&spec, &data, Some(0)));
        assert_eq!(
            decode_file(&path, &DecodeOptions::default())
                .unwrap()
                .channels[0]
                .len(),
            1000
        );
    }

    #[test]
    fn huge_declared_length_allocates_nothing_big() {
        // Claims ~2 GiB of 8 kHz audio (> 4 h limit would apply only to real data) in a tiny file.
        let spec = spec_for(SampleEncoding::PcmSigned16, 2, 8_000, Header::Plain);
        let data = encode(SampleEncoding::PcmSigned16, &[0.1; 64]);
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(
            &dir,
            "liar.wav",
            &wav_bytes(&spec, &data, Some(0x7FFF_FFF0)),
        );
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        assert_eq!(audio.channels[0].len(), 64);
        assert!(
            audio.channels[0].capacity() < 100_000,
            "capacity follows the header claim"
        );
    }

    #[test]
    fn non_finite_floats_are_zeroed_when_rare_and_an_error_when_common() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_for(SampleEncoding::Float32, 1, 16_000, Header::Plain);
        let mut samples = sine(300.0, 16_000, 16_000, 0.5, 0.0);
        samples[100] = f32::NAN;
        samples[200] = f32::INFINITY;
        samples[300] = 3.0;
        let path = write_temp(
            &dir,
            "rare.wav",
            &wav_bytes(&spec, &encode(SampleEncoding::Float32, &samples), None),
        );
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        assert_eq!(
            (
                audio.channels[0][100],
                audio.channels[0][200],
                audio.channels[0][300]
            ),
            (0.0, 0.0, 1.0)
        );
        assert!(
            audio
                .notes
                .contains(&DecodeNote::NonFiniteSamplesZeroed { count: 2 })
        );
        assert!(
            audio
                .notes
                .contains(&DecodeNote::FloatSamplesClamped { count: 1 })
        );

        for sample in samples.iter_mut().skip(1000).take(100) {
            *sample = f32::NAN;
        }
        let path = write_temp(
            &dir,
            "corrupt.wav",
            &wav_bytes(&spec, &encode(SampleEncoding::Float32, &samples), None),
        );
        assert_eq!(
            decode_file(&path, &DecodeOptions::default())
                .unwrap_err()
                .kind(),
            "invalid_samples"
        );
    }

    #[test]
    fn rf64_files_decode() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RF64");
        bytes.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        bytes.extend_from_slice(b"WAVE");
        bytes.extend_from_slice(b"ds64");
        bytes.extend_from_slice(&28u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes()); // RIFF size (unused)
        bytes.extend_from_slice(&2_000u64.to_le_bytes()); // data size
        bytes.extend_from_slice(&1_000u64.to_le_bytes()); // sample count
        bytes.extend_from_slice(&0u32.to_le_bytes()); // table length
        bytes.extend_from_slice(b"fmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        for field in [1u16, 1] {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes.extend_from_slice(&16_000u32.to_le_bytes());
        bytes.extend_from_slice(&32_000u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        bytes.extend_from_slice(&encode(SampleEncoding::PcmSigned16, &[0.25; 1000]));
        bytes.extend_from_slice(b"JUNKxxxx"); // trailing chunk must not be read as audio
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(&dir, "rf64.wav", &bytes);
        let audio = decode_file(&path, &DecodeOptions::default()).unwrap();
        assert_eq!(audio.channels[0].len(), 1000);
        assert!(audio.notes.is_empty(), "{:?}", audio.notes);
    }

    #[test]
    fn random_damage_never_panics() {
        // Deterministic pseudo-random corruption of a valid stereo mu-law file: every variant
        // must come back as Ok or as a DecodeError, never a panic or a huge allocation.
        let spec = spec_for(SampleEncoding::MuLaw, 2, 8_000, Header::Extensible);
        let valid = wav_bytes(
            &spec,
            &encode(SampleEncoding::MuLaw, &sine(300.0, 8_000, 400, 0.3, 0.0)),
            None,
        );
        let dir = tempfile::tempdir().unwrap();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let mut bytes = valid.clone();
            let n_changes = 1 + (next() % 4) as usize;
            for _ in 0..n_changes {
                let at = (next() % 80) as usize; // the header region
                bytes[at] = next() as u8;
            }
            if round % 5 == 0 {
                bytes.truncate((next() % bytes.len() as u64) as usize);
            }
            let path = write_temp(&dir, "fuzz.wav", &bytes);
            let _ = decode_file(&path, &DecodeOptions::default());
            let _ = probe_file(&path);
        }
    }

    // ---- fixtures ----------------------------------------------------------------------------

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    #[test]
    fn fixture_calls_decode() {
        let cases = [
            ("c01_polite_mulaw.wav", "mulaw", 2u16, 8_000u32),
            ("c04_no_closing_alaw.wav", "alaw", 2, 8_000),
            ("c05_card_number_mulaw_extensible.wav", "mulaw", 2, 8_000),
            ("c09_mono_pcm16.wav", "pcm_s16le", 1, 8_000),
            ("c09_mono_pcm16_44k.wav", "pcm_s16le", 1, 44_100),
        ];
        for (name, format, n_channels, rate) in cases {
            let audio = decode_file(&fixture(name), &DecodeOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (
                    audio.source_format.as_str(),
                    audio.n_source_channels,
                    audio.source_sample_rate
                ),
                (format, n_channels, rate),
                "{name}"
            );
            assert!(audio.notes.is_empty(), "{name}: {:?}", audio.notes);
            let expected_len = (audio.duration_ms * 16) as i64;
            assert!(
                (audio.channels[0].len() as i64 - expected_len).abs() <= 16,
                "{name}"
            );
        }
        // The three encodings of the mono call carry the same signal.
        let original =
            decode_file(&fixture("c09_mono_pcm16.wav"), &DecodeOptions::default()).unwrap();
        for copy in ["c09_mono_mulaw.wav", "c09_mono_pcm16_44k.wav"] {
            let other = decode_file(&fixture(copy), &DecodeOptions::default()).unwrap();
            let n = original.channels[0].len().min(other.channels[0].len());
            let (a, b) = (&original.channels[0][..n], &other.channels[0][..n]);
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let correlation = dot / (rms(a) * rms(b) * n as f32);
            assert!(correlation > 0.98, "{copy}: correlation {correlation}");
        }
    }

    #[test]
    fn channels_decode_one_at_a_time_exactly_as_together() {
        for name in [
            "c01_polite_mulaw.wav",
            "c04_no_closing_alaw.wav",
            "c09_mono_pcm16.wav",
        ] {
            let path = fixture(name);
            let whole = decode_file(&path, &DecodeOptions::default()).unwrap();
            for (index, channel) in whole.channels.iter().enumerate() {
                let single = decode_file_channel(&path, &DecodeOptions::default(), index).unwrap();
                assert_eq!(single.channels.len(), 1, "{name}");
                assert_eq!(&single.channels[0], channel, "{name} channel {index}");
                assert_eq!(single.n_source_channels, whole.n_source_channels);
                assert_eq!(single.duration_ms, whole.duration_ms);
                assert_eq!(single.notes, whole.notes);
            }
            let beyond =
                decode_file_channel(&path, &DecodeOptions::default(), whole.channels.len())
                    .unwrap();
            assert!(beyond.channels.is_empty());
        }
        // Limits and sample checks look at every channel, whichever one is kept.
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_for(SampleEncoding::Float32, 2, 16_000, Header::Plain);
        let mut interleaved = sine(300.0, 16_000, 2_000, 0.5, 0.0);
        for sample in interleaved.iter_mut().skip(1).step_by(2) {
            *sample = f32::NAN; // the right channel is all NaN
        }
        let path = write_temp(
            &dir,
            "half_nan.wav",
            &wav_bytes(&spec, &encode(SampleEncoding::Float32, &interleaved), None),
        );
        let error = decode_file_channel(&path, &DecodeOptions::default(), 0).unwrap_err();
        assert_eq!(error.kind(), "invalid_samples");
    }

    /// Streamed blocks put together are exactly the collected channel, with the same facts,
    /// for pass-through (16 kHz), resampled (8 and 44.1 kHz) and truncated files.
    #[test]
    fn streamed_channels_are_the_decoded_channels() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_for(SampleEncoding::PcmSigned16, 1, 16_000, Header::Plain);
        let data = encode(
            SampleEncoding::PcmSigned16,
            &sine(440.0, 16_000, 80_000, 0.5, 0.0),
        );
        let valid = valid_pcm16_file(8_000);
        let truncated = write_temp(&dir, "cut.wav", &valid[..valid.len() - 8_001]);
        let passthrough = write_temp(&dir, "16k.wav", &wav_bytes(&spec, &data, None));
        for (path, channel) in [
            (fixture("c01_polite_mulaw.wav"), 0),
            (fixture("c01_polite_mulaw.wav"), 1),
            (fixture("c09_mono_pcm16_44k.wav"), 0),
            (fixture("c04_no_closing_alaw.wav"), 1),
            (passthrough, 0),
            (truncated, 0),
        ] {
            let decoded = decode_file_channel(&path, &DecodeOptions::default(), channel).unwrap();
            let mut samples = Vec::new();
            let mut n_blocks = 0;
            let streamed =
                stream_file_channel(&path, &DecodeOptions::default(), channel, &mut |block| {
                    samples.extend_from_slice(block);
                    n_blocks += 1;
                })
                .unwrap();
            let name = path.display();
            assert_eq!(samples, decoded.channels[0], "{name} channel {channel}");
            assert_eq!(streamed.n_samples, samples.len(), "{name}");
            assert!(n_blocks > 1, "{name}: handed over in blocks, not at once");
            assert_eq!(streamed.notes, decoded.notes, "{name}");
            assert_eq!(streamed.duration_ms, decoded.duration_ms, "{name}");
            assert_eq!(
                streamed.n_source_channels, decoded.n_source_channels,
                "{name}"
            );
            assert_eq!(
                streamed.source_sample_rate, decoded.source_sample_rate,
                "{name}"
            );
        }
        // A channel the file does not have streams nothing.
        let mono = fixture("c09_mono_mulaw.wav");
        let streamed =
            stream_file_channel(&mono, &DecodeOptions::default(), 1, &mut |_| panic!()).unwrap();
        assert_eq!(streamed.n_samples, 0);
    }

    #[test]
    fn bytes_decode_like_files() {
        let path = fixture("c09_mono_mulaw.wav");
        let bytes = std::fs::read(&path).unwrap();
        let from_file = decode_file(&path, &DecodeOptions::default()).unwrap();
        let from_bytes = decode_bytes(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!(from_file, from_bytes);
        assert_eq!(probe_bytes(&bytes).unwrap(), probe_file(&path).unwrap());
        let error = decode_bytes(&bytes[..20], &DecodeOptions::default()).unwrap_err();
        assert_eq!(error.kind(), "truncated");
        assert!(error.to_string().starts_with("<memory>: "), "{error}");
    }

    #[test]
    fn malformed_fixtures_fail_with_their_kinds() {
        for (name, kind) in [
            ("bad_empty.wav", "empty"),
            ("bad_truncated_header.wav", "truncated"),
            ("bad_header_only.wav", "truncated"),
            ("bad_not_audio.wav", "not_audio"),
        ] {
            let error = decode_file(&fixture(name), &DecodeOptions::default()).unwrap_err();
            assert_eq!(error.kind(), kind, "{name}: {error}");
        }
    }
}
